export { createSecretBox, generateEncryptionKey, isSealed } from './secret-box';
export type { SecretBox } from './secret-box';
