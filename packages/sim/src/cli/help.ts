/**
 * The help of breaker-sim: the whole text (`breaker-sim --help`), and each command's own part
 * (`breaker-sim tune --help`): its usage lines and its paragraph, cut from the same text so they
 * never disagree.
 */
import { scenarios } from '../builtInScenarios.js'

/** The commands of breaker-sim, besides the demo. */
export const COMMANDS = ['run', 'tune', 'quality', 'replay', 'evaluate', 'train', 'fleet'] as const
export type Command = (typeof COMMANDS)[number]

export const usage = `usage: breaker-sim [--scenario NAME] [--seed N] [--html PATH] [--list] [--help]
       breaker-sim run --config FILE [--config FILE ...] [--scenario NAME | --scenario-file FILE]
                       [--seeds SEEDS] [--oracle] [--workers N] [--kinds MODULE] [--html PATH]
       breaker-sim tune --space FILE [--cells CELLS [--rps N,...] [--max-rps N] | --scenario NAME | --scenario-file FILE | --trace FILE]
                        [--seeds SEEDS] [--budget N] [--workers N] [--kinds MODULE] [--out FILE] [--html PATH]
       breaker-sim quality --config FILE [--config FILE ...] [--cells CELLS] [--rps N,...] [--max-rps N] [--seeds SEEDS] [--workers N]
                           [--kinds MODULE] [--html PATH] [--json PATH]
       breaker-sim replay --trace FILE --config FILE [--config FILE ...] [--kinds MODULE]
       breaker-sim evaluate --config FILE [--config FILE ...] [--seeds SEEDS] [--hours N] [--kinds MODULE]
       breaker-sim evaluate --space [--config FILE ...] [--learned] [--calibrate-seeds SEEDS] [--seeds SEEDS] [--budget N] [--cells SEL] [--workers N]
       breaker-sim train [--scenarios A,B,...] [--cells SEL [--hold-out KIND]] [--seeds SEEDS] [--trace FILE] [--horizon-ms N]
                         [--threshold R] [--balance] [--out FILE]
       breaker-sim fleet [--config FILE] [--sizes N,N,...] [--rps N] [--sync-ms N] [--seeds SEEDS] [--quiet-start] [--faulty N]
                         [--kinds MODULE] [--html PATH]

Runs classic half-open, gradual recovery and consecutive-failures-with-backoff on the same
simulated traffic (same seed, same draws) and shows what each did to callers and to the upstream.

options:
  --scenario NAME   one of: ${Object.keys(scenarios).join(', ')} (default: fragile-recovery)
  --seed N          a non-negative integer; same seed, same output (default: 1)
  --html PATH       also write a self-contained HTML report (inline charts, no network) to PATH
  --list            list the scenarios with their descriptions
  --help            this text

run: your strategy configs (JSON files, as fromConfig reads them; --kinds adds your part kinds)
side by side on the same simulated traffic, on a built-in scenario or a scenario file (the format
of packages/sim/scenarios/*.json). --seeds takes N, A..B or A,B,C (at most 1000 seeds): with one
seed it draws the charts and the table, with several a table of the median and the range of each
metric over the seeds (simulated on --workers threads, default the cores; the same result for
any number). --oracle adds the oracle's row: a policy that knows the upstream's truth, admitting
what it can serve and no more (the best any config could do on these draws). --html writes the
report: the charts for one seed, the summary for several.

tune: searches a config space (a JSON file: "base", a config every candidate starts from;
"parameters", each { "path": "trip.threshold", "values": [...] } or { "path": ..., "range":
{ "min", "max", "step" } }; "search", { "kind": "grid" } (default) or { "kind": "random", "seed" };
"weights"; "constraints") for the config of lowest cost, on cells of the scenario space (--cells:
train (default), test, all, quick, or ids and families such as outage@200,partial-30,noise-*;
--rps N,... builds every family at your traffic levels instead of the space's own, whole requests/s
from 1 to 10,000, so cells are family@N; --max-rps N keeps those at N requests/s or less; seeds
1..3 by default), or on one scenario (seed 1 by default), or on a recorded --trace. The
default cost is the goodput lost against the oracle (points of the oracle's successes) plus a
quarter of the points of requests sent into failure, averaged over cells and seeds; "weights"
sets your own (oracleShortfall, wastedShare, callerSeconds, wasted, needless, collapses,
detectSeconds, backToFullSeconds; those you leave out are 0). "constraints": { "falseTripsPerDay":
1 } rules out any candidate tripping more often on a noise cell. A best value at the edge of a
parameter's range is reported: the optimum may lie beyond it. On a --trace, a candidate admitting
a call that failed live wastes it and rejecting one that succeeded live is needless. --budget caps
the candidates (default 100); --workers spreads them over worker threads (default: the cores; the
result is the same for any number); the best config is written to --out (default tuned.json).
--html draws the candidates, the Pareto front of wasted vs needless and the chosen config.

quality: your configs on the scenario space (--cells, default all: 82 cells from 1 to 10,000
requests/s; --rps N,... builds every family at your traffic levels instead, as tune does) over
--seeds (default 101..120), next to classic half-open and the oracle: per cell each config's
success against classic (median and worst seed) and share of the oracle's goodput, then summary
rows. --html draws the heat maps, --json writes the whole matrix.

replay: feeds a recorded trace (JSON lines of a live breaker's calls$ events) through each
strategy config (a JSON file, as fromConfig reads it) and compares their decisions with the
live ones. --kinds MODULE imports a JavaScript module whose \`kinds\` export adds your own part
kinds (as fromConfig(json, { kinds }) takes them), so the configs can name your parts.

evaluate: how your configs do at shedding load early and at not tripping for nothing, on seeds
you did not tune on (--seeds, default 101..120): when each first sheds load on slow-degradation
and brownout, its lead time on the brown-out (before the true failure rate reached 50%), its
trips over --hours (default 24) of the noisy-but-healthy and self-healing-spikes patterns, and
success / wasted / needless / collapses on outage, brownout, fragile-recovery, noisy-but-healthy.
With --space it judges early warning on the scenario space instead, at a false-trip budget
(--budget, default 1 false trip a simulated day on every noise cell), against baselines computed
in the same run: the reference is the most sensitive failure-rate threshold (10 s, 20 calls) that
keeps the budget on the noise of both halves; an EWMA chart of the failure rate and the CUSUM
detector (both signals), each added to the reference, are calibrated on the train half's noise
(--calibrate-seeds, default 1..5). Your configs (none is fine) run as they are. On the test half
(--seeds, default 101..120): each one's false trips, when it first sheds load on every incident
(fragile ones aside) and how much earlier than the reference, and whether it is 10 s or more
ahead on every incident with a precursor, never later on the others, within the budget.
--learned adds the learned predictor, one incident kind held out at a time: a model per kind
(outage, error ramp, latency creep, partial failure, cascading), trained without it on the train
half, added to the reference, its probability calibrated like the baselines, and shown on each
test cell by the model that never saw that cell's kind. --cells narrows the space (as quality
takes it). The whole space with --learned took 7 minutes on a 2-core machine.

fleet: what fleet mode (@datapunk/breaker-redis) buys, before deploying Redis. N replicas share
--rps requests/s (default 200) at random and call one upstream that dies after 20 s of healthy
traffic (--quiet-start: from the first call); each runs --config (default: failure rate 50% over
10 s, minimumCalls 20) alone, then in fleet mode (window counts synced every --sync-ms, default
250, the fleet protocol of @datapunk/breaker-redis over memory). For each fleet size (--sizes,
default 1,2,5,10,20,50,100): the time until every replica is open and the calls wasted on the dead
upstream until then, medians over --seeds (default 1..5). --faulty N: the upstream dies for N
replicas only (their own network path or deploy); the table adds the good calls the healthy
replicas rejected. --html draws them against fleet size.

train: fits the learned predictor (a logistic model over the failure rate and latency of each
second, of about 10 s and of about a minute, and their changes) on built-in scenarios (--scenarios, default brownout, slow-degradation,
noisy-but-healthy, self-healing-spikes, outage, cascading) over --seeds (default 1..10): a bucket
is positive when the upstream's true failure rate reaches 50% within --horizon-ms (default
30000). With --trace (a live breaker's calls$ as JSON lines) it trains on the recorded outcomes
instead, labelling a bucket positive when the calls settled within the horizon after it failed
at 50% or more; give --scenarios too to train on both. --cells trains on cells of the scenario
space instead (as quality takes them: train, test, families, ids), and --hold-out KIND leaves
out the incidents of one kind (outage, error ramp, latency creep, partial failure, cascading), to
judge the model on that kind with evaluate --space --cells. Deterministic. Writes a circuit config
to --out (default model.json), ready for run --config: a failure-rate threshold (--threshold,
default 0.5, over 10 s and 20 calls) and the model ({ "kind": "learned", "model": ... }) beside it.
--balance weighs positive and negative buckets alike (for failures too rare to be learnt
otherwise); the model then gives a score rather than a probability, and needs a higher
probability setting to keep false trips as rare.`

/** The help of `command`: its usage lines and its paragraph; the whole text for the demo (no command). */
export const commandHelp = (command: Command | undefined): string => {
  if (command === undefined) return usage
  const lines = usage.split('\n')
  const first = lines.findIndex(
    (line) => line.trimStart().startsWith(`breaker-sim ${command} `) || line.trimStart() === `breaker-sim ${command}`,
  )
  const usageLines: string[] = []
  for (let i = first; i >= 0 && i < lines.length; i++) {
    const line = lines[i] ?? ''
    // A usage goes on in lines indented under it, and in further forms of the same command.
    const sameCommand = line.trimStart().startsWith(`breaker-sim ${command} `)
    if (i > first && !/^ {20,}\S/.test(line) && !sameCommand) break
    // The first line says `usage: ` where the whole text aligns commands under it (7 columns either way).
    usageLines.push(i === first ? line.replace(/^(usage: | {7})/, 'usage: ') : line)
  }
  const paragraph: string[] = []
  const at = lines.findIndex((line) => line.startsWith(`${command}: `))
  for (let i = at; i >= 0 && i < lines.length && (lines[i] ?? '') !== ''; i++) paragraph.push(lines[i] ?? '')
  return `${usageLines.join('\n')}\n\n${paragraph.join('\n')}`
}
