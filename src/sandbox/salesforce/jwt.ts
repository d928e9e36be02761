import { createHmac, createVerify, timingSafeEqual } from 'node:crypto';

export interface JwtCheck {
  clientId: string;
  clientSecret: string;
  /** PEM public key (certificate uploaded to the connected app); enables RS256. */
  publicKeyPem?: string;
  /** Accepted `aud` values. */
  audiences: string[];
  now: number;
}

export interface JwtClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
}

/** Why a JWT assertion was refused; the token endpoint maps this to an OAuth error. */
export class JwtRejected extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
    this.name = 'JwtRejected';
  }
}

function decodePart(part: string | undefined): Record<string, unknown> {
  if (part === undefined) throw new JwtRejected('invalid_grant', 'invalid assertion');
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    if (typeof v !== 'object' || v === null) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw new JwtRejected('invalid_grant', 'invalid assertion');
  }
}

/**
 * Verifies a JWT bearer assertion: HS256 signed with the client secret, or RS256 against the
 * configured public key (what Salesforce requires). Checks iss = client id, aud in the
 * accepted list and exp in the future; returns the claims (sub is the username).
 */
export function verifyJwtAssertion(assertion: string, check: JwtCheck): JwtClaims {
  const parts = assertion.split('.');
  if (parts.length !== 3) throw new JwtRejected('invalid_grant', 'invalid assertion');
  const [h, p, sig] = parts as [string, string, string];
  const header = decodePart(h);
  const claims = decodePart(p);
  const signed = `${h}.${p}`;
  const signature = Buffer.from(sig, 'base64url');
  let ok = false;
  if (header.alg === 'HS256') {
    const expected = createHmac('sha256', check.clientSecret).update(signed).digest();
    ok = expected.length === signature.length && timingSafeEqual(expected, signature);
  } else if (header.alg === 'RS256' && check.publicKeyPem) {
    ok = createVerify('RSA-SHA256').update(signed).verify(check.publicKeyPem, signature);
  } else {
    throw new JwtRejected(
      'invalid_grant',
      `invalid assertion: unsupported alg ${String(header.alg)}`,
    );
  }
  if (!ok) throw new JwtRejected('invalid_grant', 'invalid assertion');
  if (claims.iss !== check.clientId)
    throw new JwtRejected('invalid_client_id', 'client identifier invalid');
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.some((a) => typeof a === 'string' && check.audiences.includes(a.replace(/\/$/, '')))) {
    throw new JwtRejected('invalid_grant', 'audience is invalid');
  }
  if (typeof claims.exp !== 'number' || claims.exp * 1000 <= check.now) {
    throw new JwtRejected('invalid_grant', 'expired authorization code');
  }
  if (typeof claims.sub !== 'string') throw new JwtRejected('invalid_grant', 'invalid assertion');
  return { iss: claims.iss, sub: claims.sub, aud: String(aud[0]), exp: claims.exp };
}
