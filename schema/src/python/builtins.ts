/** Names a notebook can read without any cell binding them: Python 3 builtins and IPython's globals. */
export const PYTHON_BUILTINS: ReadonlySet<string> = new Set(
  (
    'abs aiter all anext any ascii bin bool breakpoint bytearray bytes callable chr classmethod compile complex ' +
    'copyright credits delattr dict dir divmod enumerate eval exec exit filter float format frozenset getattr ' +
    'globals hasattr hash help hex id input int isinstance issubclass iter len license list locals map max ' +
    'memoryview min next object oct open ord pow print property quit range repr reversed round set setattr ' +
    'slice sorted staticmethod str sum super tuple type vars zip __import__ __build_class__ __debug__ __doc__ ' +
    '__name__ __file__ __builtins__ __spec__ __loader__ __package__ __annotations__ NotImplemented Ellipsis ' +
    'BaseException BaseExceptionGroup Exception ExceptionGroup ArithmeticError AssertionError AttributeError ' +
    'BlockingIOError BrokenPipeError BufferError BytesWarning ChildProcessError ConnectionAbortedError ' +
    'ConnectionError ConnectionRefusedError ConnectionResetError DeprecationWarning EOFError EncodingWarning ' +
    'EnvironmentError FileExistsError FileNotFoundError FloatingPointError FutureWarning GeneratorExit IOError ' +
    'ImportError ImportWarning IndentationError IndexError InterruptedError IsADirectoryError KeyError ' +
    'KeyboardInterrupt LookupError MemoryError ModuleNotFoundError NameError NotADirectoryError ' +
    'NotImplementedError OSError OverflowError PendingDeprecationWarning PermissionError ProcessLookupError ' +
    'RecursionError ReferenceError ResourceWarning RuntimeError RuntimeWarning StopAsyncIteration StopIteration ' +
    'SyntaxError SyntaxWarning SystemError SystemExit TabError TimeoutError TypeError UnboundLocalError ' +
    'UnicodeDecodeError UnicodeEncodeError UnicodeError UnicodeTranslateError UnicodeWarning UserWarning ' +
    'ValueError Warning ZeroDivisionError ' +
    // IPython kernel globals
    'get_ipython display In Out _ __ ___ _i _ii _iii _oh _dh'
  ).split(' '),
);

/**
 * Builtins that do not change their arguments: they read them through protocols that by Python's
 * conventions change nothing (`__len__`, `__iter__`, `__repr__`, `__format__`, `__eq__`, ...) and
 * return new objects. Passing a value to one of these is a read. Not here: `next` (advances an
 * iterator), `setattr`/`delattr`, `open`, `exec`/`eval`, `super`, `memoryview`. Callbacks they call
 * (`key=`, `map`'s function) are assumed not to change the elements; the runner's check of
 * read-only inputs reports it when one does.
 */
export const PURE_BUILTINS: ReadonlySet<string> = new Set(
  (
    'abs all any ascii bin bool bytearray bytes callable chr complex dict dir divmod enumerate filter ' +
    'float format frozenset getattr hasattr hash hex id int isinstance issubclass iter len list map max min ' +
    'oct ord pow print range repr reversed round set slice sorted str sum tuple type vars zip display'
  ).split(' '),
);

/** Builtins whose result is a new immutable value (a number, string or bool): it shares nothing with the arguments. */
export const IMMUTABLE_RESULT_BUILTINS: ReadonlySet<string> = new Set(
  'ascii bin bool callable chr float format hasattr hash hex id int isinstance issubclass len oct ord repr str'.split(
    ' ',
  ),
);

/**
 * Methods that do not change the object they are called on, nor their arguments, on every type
 * that defines them among Python's built-in types, NumPy arrays, pandas objects, PyTorch tensors
 * and modules, scikit-learn estimators and `logging` loggers. A call with `inplace=` (pandas) is a
 * change all the same. The list is short on purpose: any other method call is taken to change its
 * object, and the runner checks every input this list leaves read-only.
 */
export const READ_ONLY_METHODS: ReadonlySet<string> = new Set(
  // mappings, sequences, sets, strings
  (
    'copy keys values items get count index startswith endswith format join split rsplit splitlines strip ' +
    'lstrip rstrip lower upper title replace find rfind encode decode isdigit isalpha isalnum isspace ' +
    'issubset issuperset isdisjoint union intersection difference symmetric_difference ' +
    // NumPy, pandas, PyTorch: reductions, conversions and the pandas methods that return a new object
    'head tail describe info mean sum std var min max median prod argmin argmax any all cumsum cumprod ' +
    'isna isnull notna notnull nunique unique value_counts corr cov tolist to_list to_dict to_numpy item ' +
    'astype reshape transpose flatten ravel squeeze groupby agg aggregate sort_values sort_index drop ' +
    'dropna drop_duplicates duplicated fillna rename reset_index set_index merge query select_dtypes ' +
    'nlargest nsmallest isin between equals pivot_table melt explode diff pct_change rolling ' +
    'size dim numel detach clone numpy ' +
    'to_csv to_json to_parquet to_pickle to_excel to_string to_markdown to_html savefig ' +
    // fitted estimators and modules
    'predict predict_proba predict_log_proba decision_function score transform get_params state_dict ' +
    'parameters named_parameters modules named_modules children ' +
    // loggers
    'debug warning error exception critical'
  ).split(' '),
);

/**
 * Methods of lists, sets and dicts that change the container only, never its elements: called on a
 * new container (`y = list(x)`, `y = x.copy()`), they change nothing the container was made from.
 */
export const CONTAINER_METHODS: ReadonlySet<string> = new Set(
  (
    'append extend insert remove pop clear sort reverse add discard update setdefault popitem ' +
    'difference_update intersection_update symmetric_difference_update'
  ).split(' '),
);

/**
 * Library functions that change an argument in place by their library's own convention: PyTorch's
 * trailing underscore (`add_`, `xavier_uniform_`, `clip_grad_norm_`), and these names from the
 * standard library and NumPy. Any other function of an imported module is taken to read its
 * arguments (unless called with `inplace=`, `copy=False` or `out=`); the runner checks the inputs
 * this leaves read-only.
 */
const IN_PLACE_FUNCTIONS: ReadonlySet<string> = new Set(
  (
    'shuffle heappush heappop heapify heapreplace heappushpop insort insort_left insort_right ' +
    'copyto fill_diagonal put place putmask put_along_axis'
  ).split(' '),
);

/**
 * Whether library function `functionName` changes the argument passed at `param` (a position or a
 * keyword). `dump` (json, pickle, yaml, joblib) writes to its file argument only.
 */
export function libraryChangesArgument(functionName: string, param: number | string): boolean {
  if (functionName === 'dump') return param === 1 || param === 'fp' || param === 'file' || param === '*';
  return (functionName.endsWith('_') && !functionName.endsWith('__')) || IN_PLACE_FUNCTIONS.has(functionName);
}

/**
 * What kinds of values cannot be pickled, by the function (dotted, as imported) that makes them,
 * or by `MAKER().method` for a method of such a value that returns another (`sqlite3.connect()`'s
 * `cursor`). Each entry was checked with CPython 3.11: pickle.dumps fails on the value as a
 * notebook uses it (a BackgroundJobManager once it has started a job, an HTTPConnection once it
 * has connected).
 */
const UNPASSABLE: ReadonlyMap<string, string> = new Map(
  Object.entries({
    'an open file': [
      'open',
      'io.open',
      'gzip.open',
      'bz2.open',
      'lzma.open',
      'codecs.open',
      'tarfile.open',
      'tarfile.TarFile',
      'zipfile.ZipFile',
      'tempfile.TemporaryFile',
      'tempfile.NamedTemporaryFile',
      'os.fdopen',
      'os.popen',
      'zipfile.ZipFile().open',
      'tarfile.open().extractfile',
      'tarfile.TarFile().extractfile',
      'socket.socket().makefile',
    ],
    'a generator': [
      'sqlite3.connect().iterdump',
      'concurrent.futures.ThreadPoolExecutor().map',
      'concurrent.futures.ProcessPoolExecutor().map',
    ],
    'a database cursor': [
      'sqlite3.connect().cursor',
      'sqlite3.connect().execute',
      'sqlite3.connect().executemany',
      'sqlite3.connect().executescript',
    ],
    'a future or pending result (it holds a lock, or its pool)': [
      'concurrent.futures.ThreadPoolExecutor().submit',
      'concurrent.futures.ProcessPoolExecutor().submit',
      ...['multiprocessing.Pool', 'multiprocessing.pool.ThreadPool'].flatMap((pool) =>
        ['apply_async', 'map_async', 'starmap_async', 'imap', 'imap_unordered'].map((m) => `${pool}().${m}`),
      ),
    ],
    'a lock': [
      'threading.Lock',
      'threading.RLock',
      'threading.Condition',
      'threading.Semaphore',
      'threading.BoundedSemaphore',
      'threading.Event',
      'threading.Barrier',
      'threading.local',
      'multiprocessing.Lock',
      'multiprocessing.RLock',
      'asyncio.Lock',
    ],
    'a queue (it holds locks)': [
      'queue.Queue',
      'queue.SimpleQueue',
      'queue.LifoQueue',
      'queue.PriorityQueue',
      'multiprocessing.Queue',
      'multiprocessing.SimpleQueue',
      'multiprocessing.JoinableQueue',
    ],
    'a thread or process': [
      'threading.Thread',
      'multiprocessing.Process',
      'multiprocessing.Pool',
      'subprocess.Popen',
      'concurrent.futures.ThreadPoolExecutor',
      'concurrent.futures.ProcessPoolExecutor',
      'multiprocessing.pool.ThreadPool',
      'threading.Timer',
      'IPython.lib.backgroundjobs.BackgroundJobManager().new',
    ],
    'an object that holds threads or operating-system resources': [
      'IPython.lib.backgroundjobs.BackgroundJobManager',
      'multiprocessing.Manager',
      'multiprocessing.managers.SyncManager',
      'asyncio.new_event_loop',
      'asyncio.get_event_loop',
      'urllib.request.urlopen',
      'select.epoll',
      'select.poll',
      'selectors.DefaultSelector',
      'mmap.mmap',
    ],
    'a CSV reader or writer': ['csv.reader', 'csv.writer', 'csv.DictReader', 'csv.DictWriter'],
    'a weak reference': ['weakref.ref', 'weakref.proxy'],
    'a socket or connection': [
      'socket.socket',
      'socket.create_connection',
      'sqlite3.connect',
      'http.client.HTTPConnection',
      'http.client.HTTPSConnection',
    ],
    'a CUDA stream, event or context handle': [
      'torch.cuda.Stream',
      'torch.cuda.Event',
      'torch.cuda.current_stream',
      'torch.cuda.default_stream',
      'torch.cuda.stream',
      'cupy.cuda.Stream',
      'cupy.cuda.Event',
      'pycuda.driver.Context',
      'pycuda.autoinit.context',
    ],
  }).flatMap(([what, makers]) => makers.map((m): [string, string] => [m, what])),
);

/**
 * The kind of value (as a phrase: "an open file") a call of `dotted` makes when pickle cannot save
 * it, so it cannot pass between tasks; undefined for anything else. `dotted` is the full name as
 * imported (`threading.Lock` also for `from threading import Lock`), or a builtin's name.
 */
export function unpassableValue(dotted: string): string | undefined {
  const what = UNPASSABLE.get(dotted) ?? UNPASSABLE_FAMILIES.find(([family]) => family.test(dotted))?.[1];
  return what && `${what} (made by ${dotted}())`;
}

/**
 * Makers named by a pattern: values pickle saves but a fresh process cannot use. A pygments lexer
 * built from regular expressions gets its class's token tables on the class's first construction
 * (RegexLexerMeta.__call__); unpickling makes the object without it, so in a task that never made
 * one, highlighting fails ("'PythonLexer' object has no attribute '_tokens'").
 */
const UNPASSABLE_FAMILIES: readonly (readonly [RegExp, string])[] = [
  [
    /^pygments\.lexers(\.\w+)*\.(\w+Lexer|get_lexer_by_name|get_lexer_for_filename|get_lexer_for_mimetype|guess_lexer|guess_lexer_for_filename)$/,
    'a pygments lexer (its class is set up when one is first made, which unpickling skips)',
  ],
];

/**
 * The same for what method `method` returns, called as `call` (`con.cursor`) on a value a call of
 * `maker` (dotted, as for unpassableValue) made.
 */
export function unpassableResult(maker: string, method: string, call: string): string | undefined {
  const what = UNPASSABLE.get(`${maker}().${method}`);
  return what && `${what} (made by ${call}(), ${call.slice(0, call.lastIndexOf('.'))} made by ${maker}())`;
}

/** numpy.random names that make generators instead of using the global state. */
const NUMPY_GENERATORS = new Set([
  'default_rng',
  'Generator',
  'RandomState',
  'SeedSequence',
  'BitGenerator',
  'PCG64',
  'PCG64DXSM',
  'MT19937',
  'Philox',
  'SFC64',
]);

/**
 * The module whose global random state a call of `dotted` (its full name as imported) seeds or
 * draws from: `numpy.random.seed`, `numpy.random.rand`, `random.shuffle`, `torch.manual_seed`,
 * `torch.randn`, `tensorflow.random.normal`; undefined for anything else.
 */
export function globalRandomState(dotted: string): string | undefined {
  let m = /^numpy\.random\.(\w+)$/.exec(dotted);
  if (m) return NUMPY_GENERATORS.has(m[1]!) ? undefined : 'numpy.random';
  m = /^random\.(\w+)$/.exec(dotted);
  if (m) return m[1] === 'Random' || m[1] === 'SystemRandom' ? undefined : 'random';
  if (
    /^torch\.(manual_seed|seed|rand|randn|randint|randperm|normal|bernoulli|multinomial|poisson|rand_like|randn_like|randint_like|set_rng_state)$/.test(
      dotted,
    ) ||
    /^torch\.cuda\.(manual_seed|manual_seed_all|seed|seed_all)$/.test(dotted)
  )
    return 'torch';
  if (/^tensorflow\.random\.\w+$/.test(dotted) || dotted === 'tensorflow.keras.utils.set_random_seed')
    return 'tensorflow.random';
  return undefined;
}

/** Functions that set state of the process a task runs in (options, warnings filters, paths, the directory). */
const STATE_SETTERS = new Set(
  (
    'chdir putenv unsetenv set_option reset_option set_printoptions seterr filterwarnings simplefilter ' +
    'resetwarnings basicConfig disable setrecursionlimit set_default_dtype set_default_tensor_type ' +
    'set_default_device set_grad_enabled set_num_threads set_num_interop_threads use_deterministic_algorithms ' +
    'rc rcdefaults set_theme set_style set_context set_palette set_visible_devices set_memory_growth'
  ).split(' '),
);

/**
 * Process-wide lists and dicts of modules: the environment, the import system's paths, finders and
 * modules, matplotlib's settings. A method call on one changes it unless the method only reads.
 */
const PROCESS_CONTAINERS =
  /^(os\.environ|sys\.(path|meta_path|path_hooks|path_importer_cache|modules)|matplotlib\.(pyplot\.)?rcParams)\.(\w+)$/;

/** Whether a call of `dotted` (full name as imported) changes module or process state. */
export function setsModuleState(dotted: string): boolean {
  const container = PROCESS_CONTAINERS.exec(dotted);
  if (container) return !READ_ONLY_METHODS.has(container[4]!);
  if (/^matplotlib\.(pyplot\.)?(style\.)?use$/.test(dotted) || dotted === 'seaborn.set') return true;
  return STATE_SETTERS.has(dotted.slice(dotted.lastIndexOf('.') + 1));
}
