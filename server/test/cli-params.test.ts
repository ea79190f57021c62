/** `--param name=value` as the CLI sends it. */
import { parseParams } from '../src/cli/commands.js';

test('values parse as JSON when they are JSON, else stay strings', () => {
  expect(parseParams(['lr=0.1', 'name=resnet', 'layers=[1,2]', 'empty='])).toEqual({
    lr: 0.1,
    name: 'resnet',
    layers: [1, 2],
    empty: '',
  });
});

test('every name reaches the request as sent, __proto__ too (the server then names it in its error)', () => {
  const params = parseParams(['constructor=1', '__proto__=2']);
  expect(JSON.parse(JSON.stringify(params))).toEqual(JSON.parse('{"constructor": 1, "__proto__": 2}'));
  expect(Object.getPrototypeOf(params)).toBe(Object.prototype);
});
