/** The one API error type both clients throw: built from a reply, it keeps the field details. */
import { ApiError, apiErrorFromReply } from '../src/index.js';

describe('apiErrorFromReply', () => {
  it.each<[string, number, string, { code: string | undefined; message: string; details: unknown[] }]>([
    [
      "the API's error body",
      400,
      JSON.stringify({
        error: { code: 'invalid', message: 'query.state: bad', details: [{ path: 'query.state', message: 'bad' }] },
      }),
      { code: 'invalid', message: 'query.state: bad', details: [{ path: 'query.state', message: 'bad' }] },
    ],
    ['a short plain-text body', 502, 'upstream down', { code: undefined, message: 'upstream down', details: [] }],
    ['an HTML page', 404, '<html>Not Found</html>', { code: undefined, message: '404 Not Found', details: [] }],
    ['no body', 500, '', { code: undefined, message: '500 Not Found', details: [] }],
  ])('given %s, then it keeps what the server said', (_name, status, text, expected) => {
    const err = apiErrorFromReply(status, 'Not Found', text);
    expect(err).toBeInstanceOf(ApiError);
    expect({ code: err.code, message: err.message, details: err.details }).toEqual(expected);
    expect(err.status).toBe(status);
  });

  it('names the field of each detail, or its cell and task for compiler problems', () => {
    const err = new ApiError(400, 'invalid', 'bad', [
      { path: 'parameters.lr', message: 'expected a number' },
      { path: '', message: 'unknown after: target', cell: 4, task: 'train' },
      { path: '', message: 'whole body' },
    ]);
    expect(err.detailFor('parameters.lr')?.message).toBe('expected a number');
    expect(err.detailFor('parameters.epochs')).toBeUndefined();
    expect(err.detailLines()).toEqual([
      'parameters.lr: expected a number',
      "cell 4, task 'train': unknown after: target",
      'whole body',
    ]);
  });

  it.each<[number, string | undefined, 'unreachable' | 'unauthorized' | 'noApi' | null]>([
    [502, undefined, 'unreachable'],
    [0, 'unreachable', 'unreachable'],
    [401, 'unauthorized', 'unauthorized'],
    [404, undefined, 'noApi'],
    [404, 'not_found', null],
    [400, 'invalid', null],
  ])('status %s with code %s reads as %s', (status, code, kind) => {
    const err = new ApiError(status, code, 'x');
    expect({ unreachable: err.unreachable, unauthorized: err.unauthorized, noApi: err.noApi }).toEqual({
      unreachable: kind === 'unreachable',
      unauthorized: kind === 'unauthorized',
      noApi: kind === 'noApi',
    });
  });
});
