import {describe, expect, it} from '@jest/globals';
import {createFrameScanner} from '../../../sim/goaway-tap.js';

function frame(type: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h.writeUInt32BE(0, 5);
  return Buffer.concat([h, payload]);
}

describe('HTTP/2 frame scanner of the GOAWAY tap', () => {
  const bytes = Buffer.concat([
    frame(0x4, Buffer.alloc(12)), // SETTINGS
    frame(0x0, Buffer.alloc(300, 7)), // DATA whose payload contains bytes that look like frame headers
    frame(0x7, Buffer.alloc(8)), // GOAWAY
    frame(0x6, Buffer.alloc(8)), // PING
  ]);

  it('sees each frame type once, whole or cut into pieces at any byte', () => {
    for (const size of [bytes.length, 1, 2, 5, 9, 10, 64]) {
      const types: number[] = [];
      const scan = createFrameScanner((type) => types.push(type));
      for (let i = 0; i < bytes.length; i += size) scan(bytes.subarray(i, i + size));
      expect(types).toEqual([0x4, 0x0, 0x7, 0x6]);
    }
  });
});
