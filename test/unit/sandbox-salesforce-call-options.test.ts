import { parseCallOptionsClient } from '../../src/sandbox/salesforce/rest-context';
import { checksumSuffix, to18 } from '../../src/sandbox/salesforce/ids';

describe('Sforce-Call-Options parsing', () => {
  test.each([
    ['client=InitLiveSync', 'InitLiveSync'],
    ['client=InitLiveSync, defaultNamespace=x', 'InitLiveSync'],
    ['defaultNamespace=x; client=InitLiveSync', 'InitLiveSync'],
    ['defaultNamespace=x', null],
    [undefined, null],
  ])('%s -> %s', (header, client) => {
    expect(parseCallOptionsClient(header)).toBe(client);
  });
});

describe('record ids', () => {
  test('18-character ids carry the case checksum Salesforce computes', () => {
    // Salesforce's documented example: 001A0000006Vm9r -> 001A0000006Vm9rIAC.
    expect(checksumSuffix('001A0000006Vm9r')).toBe('IAC');
    expect(to18('001A0000006Vm9r')).toBe('001A0000006Vm9rIAC');
    expect(to18('001A0000006Vm9rIAD')).toBeNull();
    expect(to18('not an id')).toBeNull();
  });
});
