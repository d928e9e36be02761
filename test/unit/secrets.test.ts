import { createSecretBox, generateEncryptionKey, isSealed } from '../../src/infra/secrets';

describe('SecretBox (AES-256-GCM)', () => {
  const box = createSecretBox(generateEncryptionKey());

  test('round-trips, with a fresh IV each time and nothing readable', () => {
    const token = '00D000000000001!AQ4AQH0dMHZfz972Szmpkb58urFRkgeBGsxL';
    const a = box.seal(token);
    const b = box.seal(token);
    expect(a).not.toBe(b);
    expect(isSealed(a)).toBe(true);
    expect(a).not.toContain(token);
    expect(a).not.toContain(Buffer.from(token).toString('base64'));
    expect(box.open(a)).toBe(token);
    expect(box.open(box.seal(''))).toBe('');
    expect(box.open(box.seal('Zoë 🧭'))).toBe('Zoë 🧭');
  });

  test('a tampered value, another key or another place (AAD) does not open', () => {
    const sealed = box.seal('secret', 'org_a:salesforce.accessToken');
    expect(box.open(sealed, 'org_a:salesforce.accessToken')).toBe('secret');
    expect(() => box.open(sealed, 'org_b:salesforce.accessToken')).toThrow(/cannot be decrypted/);
    expect(() =>
      createSecretBox(generateEncryptionKey()).open(sealed, 'org_a:salesforce.accessToken'),
    ).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0] = body[0]! ^ 1;
    const tampered = [...parts.slice(0, 3), body.toString('base64url')].join('.');
    expect(() => box.open(tampered, 'org_a:salesforce.accessToken')).toThrow(
      /authentication failed/,
    );
    expect(() => box.open('plain-text')).toThrow(/unknown format/);
  });

  test('a key that is not 32 bytes is refused without echoing it', () => {
    const short = Buffer.alloc(16, 7).toString('base64');
    try {
      createSecretBox(short);
      throw new Error('expected a failure');
    } catch (err) {
      expect(err).toMatchObject({ code: 'CONFIG_INVALID' });
      expect((err as Error).message).not.toContain(short);
    }
  });
});
