/**
 * The Bayeux `error` strings Salesforce's Streaming API answers with, verbatim (see
 * docs/sandbox-cometd.md for sources). Clients match on these texts, so they live in one place.
 */

export const HANDSHAKE_DENIED = '403::Handshake denied';
export const AUTHENTICATION_INVALID = '401::Authentication invalid';
export const AUTHENTICATION_REQUIRED = '401::Request requires authentication';
export const UNKNOWN_CLIENT = '403::Unknown client';
export const INVALID_CONNECTION_TYPE = '400::Invalid connection type';
/** Not from a Salesforce capture: clients of CDC channels never publish, so the text is ours. */
export const PUBLISH_NOT_ALLOWED = '403::Publishing is not allowed on this channel';

export function channelNotFound(channel: string): string {
  return `400::The channel you requested to subscribe to doesn't exist {${channel}}`;
}

export function invalidReplayId(replayId: unknown): string {
  return (
    `400::The replayId {${String(replayId)}} you provided was invalid. ` +
    'Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.'
  );
}

/** The map is printed the way Salesforce's Java side prints it: `{{/data/X=-2, /data/Y=5}}`. */
export function replayChannelMissing(channel: string, replayMap: Record<string, unknown>): string {
  const entries = Object.entries(replayMap)
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(', ');
  return (
    `400::The replayId for channel {${channel}} wasn't found using the provided replay ID map ` +
    `{{${entries}}}. Ensure that the channel name you provided in the replay map is valid and ` +
    'matches the channel name used for subscribing.'
  );
}

/** Faye's own text for a client id it does not know: `401:<clientId>:Unknown client`. */
export const FAYE_UNKNOWN_CLIENT = /^401:[^:]*:Unknown client$/;
