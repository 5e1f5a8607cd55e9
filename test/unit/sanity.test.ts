import {describe, expect, it} from '@jest/globals';
import {x} from '../support/x.js';
describe('toolchain', () => { it('works', () => { expect(x).toBe(1); }); });
