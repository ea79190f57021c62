#!/usr/bin/env node
/** The `cellpipe` command line: compile/validate pipelines, serve the API, run and inspect jobs. */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { EXECUTOR_NAMES } from './executors/registry.js';
import { serverVersion } from './http/version.js';

import type { AuditFlags, RunFlags, ServeFlags } from './cli/commands.js';
import type { CompileFlags } from './cli/compile.js';
import type { TargetFlags } from './cli/target.js';
import type { ScheduleFlags } from './cli/schedules.js';
import type { PlanFlags } from './cli/plan.js';

/** Loaded on use: `compile --help` should not pay for the server's modules. */
const commands = () => import('./cli/commands.js');
const compileCommands = () => import('./cli/compile.js');
const pipelineCommands = () => import('./cli/pipelines.js');
const scheduleCommands = () => import('./cli/schedules.js');
const notifyCommands = () => import('./cli/notify.js');
const planCommands = () => import('./cli/plan.js');

function integer(name: string, min: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min)
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return Number(value);
  };
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

const NOTIFY_HELP =
  'send the end of each run to these targets, e.g. "failure:team-slack" or "ci,me" (on: success, failure or always, the default); repeatable';

/** --split-at-headings [level]: a notebook without tags becomes one task per section. */
function splitOption(cmd: Command): Command {
  return cmd.option(
    '--split-at-headings [level]',
    'notebooks: start a task at each markdown heading of this level or higher (default: every heading); sections a value that cannot be pickled flows between (a generator, an open file, a thread pool) run as one task, and a note says which',
    integerIn('--split-at-headings', 1, 6),
  );
}

function integerIn(name: string, min: number, max: number) {
  const parse = integer(name, min);
  return (value: string): number => {
    const n = parse(value);
    if (n > max) throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    return n;
  };
}

/** --url/--token/--home: which server a command talks to. */
function targetOptions(cmd: Command): Command {
  return cmd
    .option(
      '--url <url>',
      'server URL (default: CELLPIPE_URL, else the server recorded in the home, else an embedded one)',
    )
    .option('--token <token>', 'API token (default: CELLPIPE_TOKEN, else $CELLPIPE_HOME/token)')
    .option('--home <dir>', 'Cellpipe home (default: CELLPIPE_HOME or ~/.cellpipe)');
}

let exitCode = 0;
const action =
  <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
  async (...args: A) => {
    exitCode = await fn(...args);
  };

export function buildProgram(): Command {
  const program = new Command('cellpipe')
    .description('Run tagged notebook cells as GPU-aware pipeline jobs, locally or on Kubernetes')
    .version(serverVersion())
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  splitOption(
    program
      .command('compile')
      .description('compile a notebook (.ipynb), script (.py) or pipeline (.yaml) and print the pipeline spec')
      .argument('<file>', 'notebook, script or pipeline YAML')
      .addOption(new Option('-o, --output <format>', 'output format').choices(['yaml', 'json']).default('yaml')),
  ).action(
    action((file: string, opts: CompileFlags & { output: string }) =>
      compileCommands().then((c) => c.compileCommand(file, opts)),
    ),
  );

  splitOption(
    program
      .command('validate')
      .description('check a notebook, script or pipeline YAML; prints every problem (exit 2) or "ok"')
      .argument('<file>', 'notebook, script or pipeline YAML'),
  ).action(action((file: string, opts: CompileFlags) => compileCommands().then((c) => c.validateCommand(file, opts))));

  program
    .command('serve')
    .description('start the Cellpipe server (HTTP API) for a home directory')
    .option('-c, --config <file>', 'config file, YAML or JSON (default: CELLPIPE_CONFIG, else $home/config.yaml)')
    .option('--home <dir>', 'Cellpipe home (default: CELLPIPE_HOME or ~/.cellpipe)')
    .option('--host <host>', 'address to bind (default 127.0.0.1)')
    .option('-p, --port <port>', 'port to listen on, 0 for any free one (default 8765)', integer('--port', 0))
    .addOption(new Option('--executor <name>', 'where tasks run (default local)').choices(EXECUTOR_NAMES))
    .option('--python <path>', 'Python interpreter for local tasks (default python3)')
    .option('--gpus <spec>', 'local GPU inventory, e.g. "gpu:2,mig-3g.20gb:1" (default: nvidia-smi)')
    .option('--max-parallel-per-user <n>', 'most tasks one user runs at once', integer('--max-parallel-per-user', 1))
    .option('--body-limit <size>', 'largest accepted request body (default 20mb)')
    .option(
      '--kubeconfig <file>',
      'kubeconfig for --executor kubernetes (default: KUBECONFIG, ~/.kube/config, in-cluster)',
    )
    .option('--context <name>', 'kubeconfig context for --executor kubernetes (default: its current-context)')
    .action(action((opts: ServeFlags) => commands().then((c) => c.serveCommand(opts))));

  targetOptions(
    splitOption(program.command('run'))
      .description('submit a notebook, script or pipeline YAML as a job and follow it to the end')
      .argument('<file>', 'notebook, script or pipeline YAML')
      .option(
        '--param <name=value>',
        'override a parameter (value parsed as JSON when it is JSON); repeatable',
        collect,
      )
      .option('--name <name>', 'job name (default: the pipeline name)')
      .option('--notify <[on:]targets>', NOTIFY_HELP, collect)
      .option('-d, --detach', 'submit and return; starts a background server when none runs'),
  ).action(action((file: string, opts: RunFlags) => commands().then((c) => c.runCommand(file, opts))));

  targetOptions(
    program
      .command('status')
      .description('show a job and its tasks')
      .argument('<job>', 'job id')
      .option('--json', 'print the job as JSON'),
  ).action(
    action((id: string, opts: TargetFlags & { json?: boolean }) => commands().then((c) => c.statusCommand(id, opts))),
  );

  targetOptions(
    program
      .command('logs')
      .description("print a task's output (stdout and stderr of every attempt)")
      .argument('<job>', 'job id')
      .argument('<task>', 'task name')
      .option('-f, --follow', 'keep printing until the task ends')
      .option('--attempt <n>', 'only this attempt', integer('--attempt', 1)),
  ).action(
    action((id: string, task: string, opts: TargetFlags & { follow?: boolean; attempt?: number }) =>
      commands().then((c) => c.logsCommand(id, task, opts)),
    ),
  );

  targetOptions(
    program
      .command('cancel')
      .description('cancel a job, or with --task one task of it (its downstream is skipped, the rest goes on)')
      .argument('<job>', 'job id')
      .option('--task <name>', 'cancel only this task'),
  ).action(
    action((id: string, opts: TargetFlags & { task?: string }) =>
      commands().then((c) =>
        opts.task !== undefined ? c.cancelTaskCommand(id, opts.task, opts) : c.cancelCommand(id, opts),
      ),
    ),
  );

  targetOptions(
    program
      .command('jobs')
      .description('list jobs, newest first')
      .option('--json', 'print the list as JSON')
      .addOption(
        new Option('--state <state>', 'only jobs in this state').choices([
          'pending',
          'running',
          'succeeded',
          'failed',
          'cancelled',
        ]),
      )
      .option('--limit <n>', 'at most this many (default 50)', integer('--limit', 1))
      .option('--user <user>', "another user's jobs (admins)"),
  ).action(
    action((opts: TargetFlags & { json?: boolean; state?: string; limit?: number; user?: string }) =>
      commands().then((c) => c.jobsCommand(opts)),
    ),
  );

  targetOptions(
    program
      .command('rerun')
      .description('run a job again as a new job')
      .argument('<job>', 'job id')
      .option('--failed', 'only failed, cancelled and skipped tasks (reuse what succeeded)')
      .option('-d, --detach', 'submit and return'),
  ).action(
    action((id: string, opts: TargetFlags & { failed?: boolean; detach?: boolean }) =>
      commands().then((c) => c.rerunCommand(id, opts)),
    ),
  );

  addPipelineCommands(program);
  addScheduleCommands(program);
  addNotifyCommands(program);
  addPlanCommands(program);

  targetOptions(
    program
      .command('audit')
      .description("the server's audit log, newest first: every state-changing call (admins)")
      .option('--json', 'print the entries as JSON')
      .option('--user <user>', "only this user's calls")
      .option('--action <text>', 'only actions containing this text (cancel, POST /api/schedules, login)')
      .addOption(new Option('--result <result>', 'only calls that ended so').choices(['ok', 'denied', 'failed']))
      .option('--since <date>', 'at or after this ISO date or time')
      .option('--until <date>', 'before this ISO date or time')
      .option('--limit <n>', 'at most this many (default 100)', integer('--limit', 1)),
  ).action(action((opts: AuditFlags) => commands().then((c) => c.auditCommand(opts))));

  program
    .command('stop')
    .description('stop the background server of a home (started by serve or run --detach)')
    .option('--home <dir>', 'Cellpipe home (default: CELLPIPE_HOME or ~/.cellpipe)')
    .action(action((opts: { home?: string }) => commands().then((c) => c.stopCommand(opts))));

  return program;
}

type Json = { json?: boolean };

function addPipelineCommands(program: Command): void {
  const pipelines = program
    .command('pipelines')
    .description('saved pipelines: immutable versions of a notebook, script or pipeline YAML with its files');
  const json = (cmd: Command) => cmd.option('--json', 'print JSON');
  targetOptions(
    json(
      pipelines
        .command('save')
        .description('save a notebook, script or pipeline YAML as a new version (identical content: no new version)')
        .argument('<file>', 'notebook, script or pipeline YAML')
        .option('--name <name>', 'save under this name (default: the pipeline name)')
        .option('-m, --message <text>', 'what changed'),
    ),
  ).action(
    action((file: string, opts: TargetFlags & Json & { name?: string; message?: string }) =>
      pipelineCommands().then((c) => c.pipelinesSaveCommand(file, opts)),
    ),
  );
  targetOptions(
    json(
      pipelines.command('list').description('list saved pipelines').option('--user <user>', "another user's (admins)"),
    ),
  ).action(
    action((opts: TargetFlags & Json & { user?: string }) =>
      pipelineCommands().then((c) => c.pipelinesListCommand(opts)),
    ),
  );
  targetOptions(
    json(pipelines.command('versions').description('list the versions of a pipeline').argument('<name>')),
  ).action(
    action((name: string, opts: TargetFlags & Json) =>
      pipelineCommands().then((c) => c.pipelinesVersionsCommand(name, opts)),
    ),
  );
  targetOptions(
    json(
      pipelines
        .command('show')
        .description('show one version')
        .argument('<name>')
        .argument('[version]', 'a version number or "latest"', 'latest'),
    ),
  ).action(
    action((name: string, version: string, opts: TargetFlags & Json) =>
      pipelineCommands().then((c) => c.pipelinesShowCommand(name, version, opts)),
    ),
  );
  targetOptions(
    json(
      pipelines
        .command('diff')
        .description('what changed between two versions: tasks added, removed and changed (per field), files')
        .argument('<name>')
        .argument('<from>', 'a version number or "latest"')
        .argument('[to]', 'a version number or "latest"', 'latest'),
    ),
  ).action(
    action((name: string, from: string, to: string, opts: TargetFlags & Json) =>
      pipelineCommands().then((c) => c.pipelinesDiffCommand(name, from, to, opts)),
    ),
  );
  targetOptions(
    pipelines
      .command('export')
      .description('print a version as one self-contained YAML document (spec and files)')
      .argument('<name>')
      .argument('[version]', 'a version number or "latest"', 'latest')
      .option('-o, --output <file>', 'write it to a file'),
  ).action(
    action((name: string, version: string, opts: TargetFlags & { output?: string }) =>
      pipelineCommands().then((c) => c.pipelinesExportCommand(name, version, opts)),
    ),
  );
  targetOptions(
    json(
      pipelines
        .command('import')
        .description('save an exported YAML document as a version')
        .argument('<file>', 'a document written by `cellpipe pipelines export`')
        .option('--name <name>', 'save under this name (default: the exported name)')
        .option('-m, --message <text>', 'version message'),
    ),
  ).action(
    action((file: string, opts: TargetFlags & Json & { name?: string; message?: string }) =>
      pipelineCommands().then((c) => c.pipelinesImportCommand(file, opts)),
    ),
  );
  targetOptions(
    json(
      pipelines
        .command('results')
        .description("the results of a pipeline's runs side by side, newest first")
        .argument('<name>')
        .option('--limit <n>', 'most runs (default 50)', integer('--limit', 1))
        .option('--pipeline-version <n>', 'only runs of this saved version')
        .option('--user <user>', "another user's runs (admins)"),
    ),
  ).action(
    action((name: string, opts: TargetFlags & Json & { limit?: number; user?: string; pipelineVersion?: string }) =>
      pipelineCommands().then((c) => c.pipelinesResultsCommand(name, opts)),
    ),
  );
  targetOptions(
    pipelines
      .command('run')
      .description('run a saved version as a job')
      .argument('<name>')
      .argument('[version]', 'a version number or "latest"', 'latest')
      .option('--param <name=value>', 'override a parameter; repeatable', collect)
      .option('--notify <[on:]targets>', NOTIFY_HELP, collect)
      .option('-d, --detach', 'submit and return'),
  ).action(
    action(
      (name: string, version: string, opts: TargetFlags & { param?: string[]; notify?: string[]; detach?: boolean }) =>
        pipelineCommands().then((c) => c.pipelinesRunCommand(name, version, opts)),
    ),
  );
}

/** Options of `schedule create` and `schedule update`. */
function scheduleOptions(cmd: Command): Command {
  return cmd
    .option('--pipeline <name>', 'the saved pipeline to run')
    .option(
      '--pipeline-version <n|latest>',
      'pin a version of the pipeline, or follow the latest at each fire (default latest)',
    )
    .option('--cron <expr>', '5 fields (minute hour day month weekday) or @hourly, @daily, @weekly, @monthly')
    .option('--every <duration>', 'a fixed interval instead of a cron ("90s", "15m", "6h")')
    .option('--tz <zone>', 'IANA time zone of the cron (default UTC)')
    .option('--param <name=value>', 'override a parameter; repeatable', collect)
    .option('--start <time>', 'first possible fire, ISO 8601 with Z or offset ("none" clears)')
    .option('--end <time>', 'last possible fire, ISO 8601 with Z or offset ("none" clears)')
    .option('--max-runs <n>', 'end after this many runs', integer('--max-runs', 1))
    .option('--pause-after-failures <n>', 'pause after n failed runs in a row', integer('--pause-after-failures', 1))
    .addOption(
      new Option('--concurrency <policy>', 'when the previous run is still going (default forbid)').choices([
        'allow',
        'forbid',
        'replace',
      ]),
    )
    .addOption(
      new Option('--catchup <policy>', 'slots missed while the server was down (default skip)').choices([
        'skip',
        'latest',
        'all',
      ]),
    )
    .option('--max-catchup <n>', 'most missed slots catch-up all runs (default 5)', integer('--max-catchup', 1))
    .option('--keep-succeeded <n>', 'succeeded runs whose jobs are kept (default 20)', integer('--keep-succeeded', 0))
    .option('--keep-failed <n>', 'failed runs whose jobs are kept (default 20)', integer('--keep-failed', 0))
    .option('--notify <[on:]targets>', `${NOTIFY_HELP} ("none" clears)`, collect)
    .option('--json', 'print JSON');
}

/** Options of plan and apply. */
function declarativeOptions(cmd: Command): Command {
  return targetOptions(
    cmd
      .argument(
        '<dir>',
        'a directory of YAML files: kind Pipeline (a spec, or a notebook next to it) and kind Schedule',
      )
      .option('--prune', 'delete the pipelines and schedules this directory created and no longer declares')
      .option('--selector <key=value,...>', "the labels that mark this directory's objects (default: its source label)")
      .option(
        '--source <id>',
        'the cellpipe.io/source label value (default: the git remote and path of the directory)',
      ),
  );
}

function addPlanCommands(program: Command): void {
  declarativeOptions(
    program
      .command('plan')
      .description('what apply would create, change and delete on the server; exit 0 no changes, 2 changes, 1 error'),
  ).action(action((dir: string, opts: PlanFlags) => planCommands().then((c) => c.planCommand(dir, opts))));
  declarativeOptions(
    program
      .command('apply')
      .description('make the server hold what the directory declares (asks first; --yes for CI)')
      .option('-y, --yes', 'apply without asking'),
  ).action(
    action((dir: string, opts: PlanFlags & { yes?: boolean }) => planCommands().then((c) => c.applyCommand(dir, opts))),
  );
}

function addNotifyCommands(program: Command): void {
  const notify = program
    .command('notify')
    .description("notification targets (a webhook, a Slack incoming webhook) and a job's deliveries");
  const json = (cmd: Command) => cmd.option('--json', 'print JSON');
  targetOptions(
    json(notify.command('list').description('your targets and the site-wide ones (never their URLs)')).option(
      '--user <user>',
      "another user's (admins)",
    ),
  ).action(
    action((opts: TargetFlags & Json & { user?: string }) => notifyCommands().then((c) => c.notifyListCommand(opts))),
  );
  targetOptions(
    json(
      notify
        .command('add')
        .description('define a target; its URL (and secret) is never shown again')
        .argument('<name>', 'the name rules use')
        .addOption(new Option('--kind <kind>', 'what the URL is').choices(['webhook', 'slack']).makeOptionMandatory())
        .requiredOption('--endpoint <url>', 'the URL to POST to ("-": read it from standard input)')
        .option(
          '--secret <secret>',
          'webhooks: the signing secret, 16+ characters ("-": from standard input; default: generated and shown once)',
        )
        .option('--site', 'a site-wide target everyone may use (admins)')
        .option('--description <text>', 'what it is for'),
    ),
  ).action(
    action(
      (
        name: string,
        opts: TargetFlags &
          Json & { kind: 'webhook' | 'slack'; endpoint: string; secret?: string; site?: boolean; description?: string },
      ) => notifyCommands().then((c) => c.notifyAddCommand(name, opts)),
    ),
  );
  targetOptions(
    json(
      notify
        .command('update')
        .description('change a target: its URL, its secret, its description')
        .argument('<target>', 'a target name or id')
        .option('--endpoint <url>', 'a new URL ("-": from standard input)')
        .option('--secret <secret>', 'a new signing secret ("-": from standard input)')
        .option('--rotate-secret', 'generate a new signing secret (shown once)')
        .option('--description <text>', 'a new description ("none" clears it)'),
    ),
  ).action(
    action(
      (
        ref: string,
        opts: TargetFlags & Json & { endpoint?: string; secret?: string; rotateSecret?: boolean; description?: string },
      ) => notifyCommands().then((c) => c.notifyUpdateCommand(ref, opts)),
    ),
  );
  targetOptions(
    notify.command('remove').description('delete a target').argument('<target>', 'a target name or id'),
  ).action(action((ref: string, opts: TargetFlags) => notifyCommands().then((c) => c.notifyRemoveCommand(ref, opts))));
  targetOptions(
    json(
      notify
        .command('test')
        .description('send a sample job end to a target now')
        .argument('<target>', 'a target name or id'),
    ),
  ).action(
    action((ref: string, opts: TargetFlags & Json) => notifyCommands().then((c) => c.notifyTestCommand(ref, opts))),
  );
  targetOptions(
    json(
      notify
        .command('deliveries')
        .description("a job's notifications: each target, its state, every attempt, the next try")
        .argument('<job>', 'job id'),
    ),
  ).action(
    action((id: string, opts: TargetFlags & Json) => notifyCommands().then((c) => c.notifyDeliveriesCommand(id, opts))),
  );
}

function addScheduleCommands(program: Command): void {
  const schedule = program
    .command('schedule')
    .description('server-side schedules: run a saved pipeline on a cron in a time zone, or at an interval');
  const ref = '<schedule>';
  const refHelp = 'a schedule name or id';
  targetOptions(
    scheduleOptions(
      schedule
        .command('create')
        .description('create a schedule')
        .argument('<name>', 'schedule name')
        .option('--paused', 'create it paused'),
    ),
  ).action(
    action((name: string, opts: ScheduleFlags) => scheduleCommands().then((c) => c.scheduleCreateCommand(name, opts))),
  );
  targetOptions(
    scheduleOptions(
      schedule
        .command('update')
        .description('change a schedule in place (only the options given)')
        .argument(ref, refHelp)
        .option('--name <name>', 'rename it'),
    ),
  ).action(
    action((id: string, opts: ScheduleFlags) => scheduleCommands().then((c) => c.scheduleUpdateCommand(id, opts))),
  );
  targetOptions(
    schedule
      .command('list')
      .description('list schedules with their next fire and last outcome')
      .option('--json', 'print JSON')
      .option('--user <user>', "another user's (admins)"),
  ).action(
    action((opts: TargetFlags & Json & { user?: string }) =>
      scheduleCommands().then((c) => c.scheduleListCommand(opts)),
    ),
  );
  targetOptions(
    schedule
      .command('show')
      .description('a schedule and its next five fires')
      .argument(ref, refHelp)
      .option('--json', 'print JSON'),
  ).action(
    action((id: string, opts: TargetFlags & Json) => scheduleCommands().then((c) => c.scheduleShowCommand(id, opts))),
  );
  targetOptions(schedule.command('pause').description('pause a schedule').argument(ref, refHelp)).action(
    action((id: string, opts: TargetFlags) => scheduleCommands().then((c) => c.schedulePauseCommand(id, opts))),
  );
  targetOptions(
    schedule
      .command('resume')
      .description('resume a schedule; slots that passed while paused do not run unless --catch-up')
      .argument(ref, refHelp)
      .addOption(
        new Option('--catch-up <which>', 'also run the newest paused slot, or all (up to maxCatchup)').choices([
          'latest',
          'all',
        ]),
      ),
  ).action(
    action((id: string, opts: TargetFlags & { catchUp?: 'latest' | 'all' }) =>
      scheduleCommands().then((c) => c.scheduleResumeCommand(id, opts)),
    ),
  );
  targetOptions(
    schedule.command('delete').description('delete a schedule (its jobs stay)').argument(ref, refHelp),
  ).action(
    action((id: string, opts: TargetFlags) => scheduleCommands().then((c) => c.scheduleDeleteCommand(id, opts))),
  );
  targetOptions(
    schedule
      .command('history')
      .description('every slot: fired (job, outcome) or why it did not run, newest first')
      .argument(ref, refHelp)
      .option('--limit <n>', 'at most this many rows (default 50)', integer('--limit', 1))
      .option('--json', 'print JSON'),
  ).action(
    action((id: string, opts: TargetFlags & Json & { limit?: number }) =>
      scheduleCommands().then((c) => c.scheduleHistoryCommand(id, opts)),
    ),
  );
  targetOptions(
    schedule
      .command('preview')
      .description('the next fire times of a cron or interval, from the scheduler itself')
      .option('--cron <expr>', 'cron expression')
      .option('--every <duration>', 'interval')
      .option('--tz <zone>', 'IANA time zone (default UTC)')
      .option('--count <n>', 'how many (default 5)', integer('--count', 1))
      .option('--json', 'print JSON'),
  ).action(
    action((opts: TargetFlags & Json & { cron?: string; every?: string; tz?: string; count?: number }) =>
      scheduleCommands().then((c) => c.schedulePreviewCommand(opts)),
    ),
  );
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are not errors; usage mistakes are invalid input.
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help'
        ? 0
        : 2;
    }
    const { reportError } = await import('./cli/output.js');
    return reportError(e);
  }
}

// `cellpipe jobs | head`: a closed pipe ends the command quietly instead of with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  async (e: unknown) => {
    const { reportError } = await import('./cli/output.js');
    process.exitCode = reportError(e);
  },
);
