import { gatewayTokenSecretName } from '#commons/naming';
import {
  GATEWAY_SERVICE,
  PREFIX,
  publishPeeringRequest,
  publishRegistrations,
  resetWorld,
  secretVersionCount,
  type ChaosCluster,
  type ChaosWorld,
} from './chaos-world';
import { convergenceViolations, relaySnapshot, unpeeredViolations, type ScenarioLedger } from './convergence';
import { awsErrors, type FaultAction, type HttpFaultLayer, type RequestInfo } from './http-fault-layer';
import { OwnedProcess } from './owned-process';
import { pollUntil } from './poll';
import { describeEffect, type HookHandle, type SideEffect } from './side-effects';
import type { ProxyCounters, ToxicSpec } from './toxiproxy';

export type Family = 'crash' | 'consul-restart' | 'network' | 'aws';

export interface ScenarioResult {
  id: string;
  family: Family;
  fault: string;
  where: string;
  outcome: 'converged' | 'failed';
  /** Why it failed (what the convergence check still saw, or that the fault never happened). */
  reason?: string;
  /** From the first event published to the first convergence check that passed. */
  convergeMs: number;
  /** Side effects (Consul writes, secret writes, events) beyond those of the fault-free run. */
  extraWrites: number;
  /** Secret versions beyond those of the fault-free run. */
  secretVersionsAdded: number;
  /** What shows the fault really happened (a crash reached, toxiproxy counters, an exit signal). */
  evidence: string;
}

export interface Scenario {
  id: string;
  family: Family;
  fault: string;
  where: string;
  run(world: ChaosWorld, baseline: Baseline): Promise<ScenarioResult>;
}

/** The fault-free run every scenario is compared with. */
export interface Baseline {
  writes: number;
  secretVersions: number;
  /** Its side effects in order: the crash points, named. */
  effects: SideEffect[];
  convergeMs: number;
}

/**
 * What a fault does around a peering flow. `arm` runs before anything is published; `afterRequest`
 * once both clusters are onboarded and peering.requested is sent. Each returns nothing; `evidence`
 * says afterwards whether the fault happened (undefined: it did not, and the scenario fails).
 */
interface FaultPlan {
  arm?: () => Promise<void>;
  /** Right after peering.requested is published (so the harness's own publish is not faulted). */
  afterRequest?: () => Promise<void>;
  /** Undo what is still in place (a toxic, a stopped Consul) before the convergence check. */
  heal?: () => Promise<void>;
  evidence: () => Promise<string | undefined>;
  expectedDeadLetters?: string[];
}

const SCENARIO_TIMEOUT_MS = 180_000;
let sequence = 0;

/** One full request (two registrations, then the peering) under a fault, checked for convergence. */
export async function runPeeringFlow(
  world: ChaosWorld,
  baseline: Baseline | undefined,
  plan: FaultPlan,
): Promise<Omit<ScenarioResult, 'id' | 'family' | 'fault' | 'where'>> {
  await resetWorld(world);
  sequence += 1;
  const correlationId = `chaos-${sequence}-${Date.now()}`;
  const ledger: ScenarioLedger = {
    requests: [correlationId],
    relaysAtStart: relaySnapshot(world),
    ...(plan.expectedDeadLetters === undefined ? {} : { expectedDeadLetters: plan.expectedDeadLetters }),
  };
  const started = Date.now();
  const deadline = started + SCENARIO_TIMEOUT_MS;
  let reason: string | undefined;
  let convergeMs = 0;
  try {
    await plan.arm?.();
    await publishRegistrations(world, correlationId);
    await waitOnboarded(world, deadline - Date.now());
    await publishPeeringRequest(world, correlationId);
    await plan.afterRequest?.();
    let last: string[] = [];
    try {
      await pollUntil(
        'convergence',
        async () => {
          last = await convergenceViolations(world, ledger);
          return last.length === 0 ? true : undefined;
        },
        { timeoutMs: Math.max(1_000, deadline - Date.now()), intervalMs: 500 },
      );
      convergeMs = Date.now() - started;
    } catch {
      reason = `not converged after ${SCENARIO_TIMEOUT_MS / 1000} s: ${last.join('; ')}`;
    }
  } catch (error) {
    reason = error instanceof Error ? error.message : String(error);
  } finally {
    await plan.heal?.().catch((error: unknown) => {
      reason ??= `heal failed: ${String(error)}`;
    });
  }
  const evidence = await plan.evidence();
  if (evidence === undefined) reason ??= 'the fault was never injected';
  const writes = world.effects.attempted;
  const versions = await secretVersionCount(world).catch(() => Number.NaN);
  return {
    outcome: reason === undefined ? 'converged' : 'failed',
    ...(reason === undefined ? {} : { reason }),
    convergeMs,
    extraWrites: writes - (baseline?.writes ?? writes),
    secretVersionsAdded: versions - (baseline?.secretVersions ?? versions),
    evidence: evidence ?? 'none',
  };
}

/** Both clusters onboarded, read from Consul: mesh flag, a passing gateway, the gateway token of its secret. */
async function waitOnboarded(world: ChaosWorld, timeoutMs: number): Promise<void> {
  await pollUntil(
    'both clusters to be onboarded',
    async () => {
      for (const cluster of [world.dc1, world.dc2]) if (!(await onboarded(world, cluster))) return undefined;
      return true;
    },
    { timeoutMs: Math.max(1_000, timeoutMs), intervalMs: 300 },
  );
}

async function onboarded(world: ChaosWorld, cluster: ChaosCluster): Promise<boolean> {
  const client = cluster.admin();
  try {
    const mesh = await client.readConfigEntryRaw('mesh', 'mesh');
    const peering = (mesh?.entry as { Peering?: { PeerThroughMeshGateways?: boolean } } | undefined)?.Peering;
    if (peering?.PeerThroughMeshGateways !== true) return false;
    if ((await client.healthService(GATEWAY_SERVICE, { passing: true })).length === 0) return false;
    const secret = await world.secrets.get(gatewayTokenSecretName(PREFIX, cluster.name));
    const accessorId = (JSON.parse(secret?.value ?? '{}') as { accessorId?: string }).accessorId;
    return accessorId !== undefined && (await client.readToken(accessorId)) !== undefined;
  } finally {
    await client.close();
  }
}

export async function runBaseline(world: ChaosWorld): Promise<Baseline> {
  const result = await runPeeringFlow(world, undefined, { evidence: () => Promise.resolve('no fault') });
  if (result.outcome !== 'converged')
    throw new Error(`the fault-free run did not converge: ${result.reason ?? ''}`);
  return {
    writes: world.effects.attempted,
    secretVersions: await secretVersionCount(world),
    effects: [...world.effects.log],
    convergeMs: result.convergeMs,
  };
}

const scenario = (
  id: string,
  family: Family,
  fault: string,
  where: string,
  plan: (world: ChaosWorld) => FaultPlan,
): Scenario => ({
  id,
  family,
  fault,
  where,
  run: async (world, baseline) => ({
    id,
    family,
    fault,
    where,
    ...(await runPeeringFlow(world, baseline, plan(world))),
  }),
});

// ---------------------------------------------------------------------------------------------------
// Crash points: the function dies before side effect #n (n = 1, 2, …) or after the last one. Between two
// consecutive side effects there are only reads, so these points are all the distinct states a crash
// can leave behind. After the crash the record is not deleted and SQS delivers it again.
// ---------------------------------------------------------------------------------------------------

export function crashScenario(n: number, when: 'before' | 'after', label: string): Scenario {
  return scenario(`crash-${when}-${n}`, 'crash', `crash ${when} side effect #${n}`, label, (world) => {
    let hook: HookHandle | undefined;
    return {
      // Armed after the reset (which forgets hooks), before the first event.
      arm: () => {
        hook = world.effects.crashAt(n, when);
        return Promise.resolve();
      },
      evidence: () =>
        Promise.resolve(
          hook?.fired === undefined ? undefined : `crashed ${when} #${n} ${describeEffect(hook.fired)}`,
        ),
    };
  });
}

/** Every crash point of the whole flow, named from the fault-free run's side effects. */
export function allCrashScenarios(baseline: Baseline): Scenario[] {
  const points = baseline.effects.map((effect) => crashScenario(effect.n, 'before', describeEffect(effect)));
  const last = baseline.effects.at(-1);
  if (last !== undefined) points.push(crashScenario(last.n, 'after', describeEffect(last)));
  return points;
}

/** The crash points the issue names, found by their side effect in the fault-free run. */
export function namedCrashScenarios(baseline: Baseline): Scenario[] {
  const find = (what: string, test: (e: SideEffect) => boolean): [SideEffect, string] => {
    const effect = baseline.effects.find(test);
    if (effect === undefined) throw new Error(`the fault-free run has no side effect "${what}"`);
    return [effect, what];
  };
  const named: [SideEffect, string, 'before' | 'after'][] = [
    [
      ...find(
        'gateway token secret stored, before the ACL token is created',
        (e) => e.operation === 'createToken',
      ),
      'before',
    ],
    [...find('after the mesh write', (e) => e.operation === 'writeConfigEntryCas'), 'after'],
    [
      ...find(
        'after the peering token is generated, before its secret is stored',
        (e) => e.operation === 'generatePeeringToken',
      ),
      'after',
    ],
    [
      ...find(
        'after the token secret is stored, before acceptor-ready',
        (e) => e.subject === 'peering.acceptor-ready',
      ),
      'before',
    ],
    [
      ...find('after establish, before ACTIVE is confirmed', (e) => e.operation === 'establishPeering'),
      'after',
    ],
  ];
  return named.map(([effect, what, when]) => {
    const s = crashScenario(effect.n, when, `${what} (${describeEffect(effect)})`);
    return s;
  });
}

// ---------------------------------------------------------------------------------------------------
// Consul SIGKILL + restart (state kept on disk) at each stage, on the acceptor then on the dialer.
// ---------------------------------------------------------------------------------------------------

type Stage = { name: string; when: 'before' | 'after'; match: (e: SideEffect, cluster: string) => boolean };
const RESTART_STAGES: Stage[] = [
  {
    name: 'onboarding (before its gateway policy)',
    when: 'before',
    match: (e, c) => e.subject === c && e.operation === 'createPolicy',
  },
  {
    name: 'accept (before the token is generated)',
    when: 'before',
    match: (e) => e.operation === 'generatePeeringToken',
  },
  { name: 'dial (before establish)', when: 'before', match: (e) => e.operation === 'establishPeering' },
  { name: 'activation (after establish)', when: 'after', match: (e) => e.operation === 'establishPeering' },
];

export function restartScenarios(): Scenario[] {
  return (['dc1', 'dc2'] as const).flatMap((side) =>
    RESTART_STAGES.map((stage) =>
      scenario(
        `restart-${side}-${stage.name.split(' ')[0] ?? ''}`,
        'consul-restart',
        `SIGKILL + restart of ${side === 'dc1' ? 'the acceptor' : 'the dialer'}'s Consul`,
        `${side}, ${stage.name}`,
        (world) => {
          const cluster = world[side];
          let ended: { signal: string | null } | undefined;
          let restarted: Promise<void> | undefined;
          let hook: HookHandle | undefined;
          return {
            arm: () => {
              hook = world.effects.at(
                (e) => stage.match(e, side),
                stage.when,
                async () => {
                  ended = await cluster.consul.kill();
                  // Back in the background: the function carries on against a dead agent meanwhile.
                  restarted = cluster.consul.restart();
                },
              );
              return Promise.resolve();
            },
            heal: async () => {
              await restarted;
            },
            evidence: () =>
              Promise.resolve(
                hook?.fired === undefined || ended?.signal !== 'SIGKILL'
                  ? undefined
                  : `${side} ended by ${ended.signal} at ${describeEffect(hook.fired)}, restarted with its Raft state`,
              ),
          };
        },
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------------------
// Network faults with toxiproxy: on each Consul HTTP API, each gateway, and moto.
// ---------------------------------------------------------------------------------------------------

type ProxyName = 'consul-dc1' | 'consul-dc2' | 'gateway-dc1' | 'gateway-dc2' | 'moto';

function proxyOf(world: ChaosWorld, name: ProxyName) {
  switch (name) {
    case 'consul-dc1':
      return world.dc1.httpProxy;
    case 'consul-dc2':
      return world.dc2.httpProxy;
    case 'gateway-dc1':
      return world.dc1.gatewayProxy;
    case 'gateway-dc2':
      return world.dc2.gatewayProxy;
    case 'moto':
      return world.motoProxy;
  }
}

const traffic = (c: ProxyCounters) => c.connections + c.bytesFromClients;

/**
 * A toxic on one proxy from the moment the peering is requested (or from the start, for
 * `fromStart`), removed after `forMs`. Evidence: the proxy carried traffic while the toxic was on.
 */
function toxicScenario(
  id: string,
  fault: string,
  name: ProxyName,
  toxic: ToxicSpec,
  forMs: number,
  { fromStart = false }: { fromStart?: boolean } = {},
): Scenario {
  return scenario(
    id,
    'network',
    fault,
    `toxiproxy ${name}${fromStart ? ', whole flow' : ', from the request on'}`,
    (world) => {
      const proxy = proxyOf(world, name);
      let before: ProxyCounters | undefined;
      let during: ProxyCounters | undefined;
      let removal: Promise<void> | undefined;
      const start = async (): Promise<void> => {
        before = await proxy.counters();
        const toxicName = await proxy.addToxic(toxic);
        removal = new Promise<void>((resolve) => setTimeout(resolve, forMs)).then(async () => {
          during = await proxy.counters();
          await proxy.removeToxic(toxicName);
        });
      };
      return {
        ...(fromStart ? { arm: start } : { afterRequest: start }),
        heal: async () => {
          await removal;
        },
        evidence: () =>
          Promise.resolve(
            before === undefined || during === undefined || traffic(during) <= traffic(before)
              ? undefined
              : `${toxic.type} on ${name} for ${forMs / 1000} s: ${during.connections - before.connections} connections, ${during.bytesFromClients - before.bytesFromClients} bytes in while on`,
          ),
      };
    },
  );
}

/**
 * The dependency goes down (toxiproxy disables the proxy: connection refused) and comes back after
 * `forMs`. Evidence: a caller was refused while it was down (the fault layer or relay in front saw it).
 */
function downScenario(id: string, name: ProxyName, forMs: number): Scenario {
  return scenario(
    id,
    'network',
    `down for ${forMs / 1000} s, then back`,
    `toxiproxy ${name}, from the request on`,
    (world) => {
      const proxy = proxyOf(world, name);
      const refusedCounter = (): number => {
        switch (name) {
          case 'consul-dc1':
            return world.dc1.httpLayer.counters.upstreamErrors;
          case 'consul-dc2':
            return world.dc2.httpLayer.counters.upstreamErrors;
          case 'moto':
            return world.awsLayer.counters.upstreamErrors;
          case 'gateway-dc1':
            return world.dc2.relay.routed('dc1').connections; // dc2's gateway dialing dc1's
          case 'gateway-dc2':
            return 0;
        }
      };
      let refusedBefore = 0;
      let refusedDuring = 0;
      let checkWentCritical = false;
      let back: Promise<void> | undefined;
      return {
        afterRequest: async () => {
          refusedBefore = refusedCounter();
          await proxy.disable();
          const downUntil = Date.now() + forMs;
          back = (async () => {
            while (Date.now() < downUntil) {
              if (name === 'gateway-dc2' && !checkWentCritical) {
                const client = world.dc2.admin();
                const passing = await client
                  .healthService(GATEWAY_SERVICE, { passing: true })
                  .catch(() => []);
                await client.close();
                if (passing.length === 0) checkWentCritical = true;
              }
              await new Promise((resolve) => setTimeout(resolve, 250));
            }
            refusedDuring = refusedCounter();
            await proxy.enable();
          })();
        },
        heal: async () => {
          await back;
        },
        evidence: () =>
          Promise.resolve(
            name === 'gateway-dc2'
              ? checkWentCritical
                ? `dc2's gateway check went critical while ${name} was down`
                : undefined
              : refusedDuring > refusedBefore
                ? `${refusedDuring - refusedBefore} ${name.startsWith('gateway') ? 'relay connections into the dead link' : 'requests refused'} while ${name} was down`
                : undefined,
          ),
      };
    },
  );
}

export function networkScenarios(): Scenario[] {
  return [
    toxicScenario(
      'latency-consul-dc1',
      'latency 2 s',
      'consul-dc1',
      { type: 'latency', attributes: { latency: 2_000 } },
      15_000,
    ),
    toxicScenario(
      'latency-consul-dc2',
      'latency 2 s',
      'consul-dc2',
      { type: 'latency', attributes: { latency: 2_000 } },
      15_000,
    ),
    toxicScenario(
      'blackhole-consul-dc1',
      'blackhole 12 s (timeout toxic, never closes)',
      'consul-dc1',
      { type: 'timeout', attributes: { timeout: 0 } },
      12_000,
    ),
    toxicScenario(
      'timeout-consul-dc2',
      'timeout (data stops, closed after 3 s) for 10 s',
      'consul-dc2',
      { type: 'timeout', attributes: { timeout: 3_000 } },
      10_000,
    ),
    toxicScenario(
      'reset-consul-dc1',
      'reset_peer (TCP RST) for 8 s',
      'consul-dc1',
      { type: 'reset_peer', attributes: { timeout: 0 } },
      8_000,
    ),
    toxicScenario(
      'slow-close-consul-dc2',
      'slow_close 3 s, whole flow',
      'consul-dc2',
      { type: 'slow_close', attributes: { delay: 3_000 } },
      20_000,
      { fromStart: true },
    ),
    downScenario('down-consul-dc1', 'consul-dc1', 8_000),
    downScenario('down-consul-dc2', 'consul-dc2', 8_000),
    toxicScenario(
      'latency-gateway-dc1',
      'latency 2 s',
      'gateway-dc1',
      { type: 'latency', attributes: { latency: 2_000 } },
      20_000,
    ),
    toxicScenario(
      'blackhole-gateway-dc1',
      'blackhole 12 s',
      'gateway-dc1',
      { type: 'timeout', attributes: { timeout: 0 } },
      12_000,
    ),
    toxicScenario(
      'reset-gateway-dc2',
      'reset_peer for 10 s',
      'gateway-dc2',
      { type: 'reset_peer', attributes: { timeout: 0 } },
      10_000,
    ),
    toxicScenario(
      'slow-close-gateway-dc1',
      'slow_close 3 s',
      'gateway-dc1',
      { type: 'slow_close', attributes: { delay: 3_000 } },
      20_000,
    ),
    downScenario('down-gateway-dc1', 'gateway-dc1', 10_000),
    downScenario('down-gateway-dc2', 'gateway-dc2', 10_000),
    toxicScenario(
      'latency-moto',
      'latency 2 s',
      'moto',
      { type: 'latency', attributes: { latency: 2_000 } },
      12_000,
    ),
    toxicScenario(
      'reset-moto',
      'reset_peer for 5 s',
      'moto',
      { type: 'reset_peer', attributes: { timeout: 0 } },
      5_000,
    ),
    downScenario('down-moto', 'moto', 6_000),
  ];
}

// ---------------------------------------------------------------------------------------------------
// AWS faults through the fault layer in front of moto: 5xx, throttling, timeouts, for a while.
// ---------------------------------------------------------------------------------------------------

function awsScenario(
  id: string,
  fault: string,
  service: 'secretsmanager' | 'AmazonSQS',
  operations: string[] | 'writes',
  action: FaultAction,
  { times, forMs }: { times?: number; forMs?: number },
): Scenario {
  const ops =
    operations === 'writes'
      ? ['PutSecretValue', 'CreateSecret', 'SendMessage', 'SendMessageBatch']
      : operations;
  const match = (info: RequestInfo): boolean =>
    info.target.startsWith(`${service}.`) && ops.includes(info.target.slice(service.length + 1));
  return scenario(
    id,
    'aws',
    fault,
    `${service === 'AmazonSQS' ? 'SQS' : 'Secrets Manager'} ${ops.join('/')}`,
    (world) => {
      let handle: ReturnType<HttpFaultLayer['inject']> | undefined;
      let timer: Promise<void> | undefined;
      return {
        afterRequest: () => {
          handle = world.awsLayer.inject({ match, action, ...(times === undefined ? {} : { times }) });
          if (forMs !== undefined)
            timer = new Promise<void>((resolve) => setTimeout(resolve, forMs)).then(() => handle?.remove());
          return Promise.resolve();
        },
        heal: async () => {
          await timer;
          handle?.remove();
        },
        evidence: () =>
          Promise.resolve(
            handle === undefined || handle.served === 0
              ? undefined
              : `${handle.served} requests answered ${fault}`,
          ),
      };
    },
  );
}

export function awsScenarios(): Scenario[] {
  const hang = (ms: number): FaultAction => ({ kind: 'hang', ms });
  return [
    awsScenario(
      'sm-5xx-2',
      '500 InternalFailure x2 (within the SDK retries)',
      'secretsmanager',
      ['GetSecretValue'],
      awsErrors.serverError(),
      { times: 2 },
    ),
    awsScenario(
      'sm-5xx-5s',
      '500 InternalFailure for 5 s',
      'secretsmanager',
      ['GetSecretValue', 'PutSecretValue', 'CreateSecret'],
      awsErrors.serverError(),
      { forMs: 5_000 },
    ),
    // Longer than the SDK's own retries by far: the handlers hand records back by backoff (capped at
    // 2 s in this world) until the outage ends, well within the 300 s retry budget. Before retries
    // backed off with a budget, this outage outlived the queues' 5 deliveries and was dead-lettered.
    awsScenario(
      'sm-5xx-20s',
      '500 InternalFailure for 20 s (far beyond the SDK retries)',
      'secretsmanager',
      ['GetSecretValue', 'PutSecretValue', 'CreateSecret'],
      awsErrors.serverError(),
      { forMs: 20_000 },
    ),
    awsScenario(
      'sm-throttle',
      'ThrottlingException for 5 s',
      'secretsmanager',
      ['GetSecretValue', 'CreateSecret'],
      awsErrors.throttle(),
      { forMs: 5_000 },
    ),
    awsScenario(
      'sm-timeout',
      'no answer (10 s, then reset) x2',
      'secretsmanager',
      ['CreateSecret', 'GetSecretValue'],
      hang(10_000),
      { times: 2 },
    ),
    awsScenario(
      'sqs-send-5xx',
      '500 InternalFailure for 5 s',
      'AmazonSQS',
      ['SendMessage'],
      awsErrors.serverError(),
      { forMs: 5_000 },
    ),
    awsScenario(
      'sqs-send-throttle',
      'ThrottlingException x4',
      'AmazonSQS',
      ['SendMessage'],
      awsErrors.throttle(),
      { times: 4 },
    ),
    awsScenario(
      'sqs-send-timeout',
      'no answer (10 s, then reset) x1',
      'AmazonSQS',
      ['SendMessage'],
      hang(10_000),
      { times: 1 },
    ),
    awsScenario(
      'sqs-receive-5xx',
      '500 InternalFailure for 6 s',
      'AmazonSQS',
      ['ReceiveMessage', 'DeleteMessageBatch'],
      awsErrors.serverError(),
      { forMs: 6_000 },
    ),
  ];
}

// ---------------------------------------------------------------------------------------------------
// `peerctl unpeer` killed (a real SIGKILL of the CLI process) before or after its Nth write, then run
// again until it succeeds. Writes: DELETE /v1/peering on either cluster, DeleteSecret on Secrets Manager.
// ---------------------------------------------------------------------------------------------------

const isUnpeerWrite = (info: RequestInfo): boolean =>
  (info.method === 'DELETE' && info.path.startsWith('/v1/peering/')) ||
  info.target === 'secretsmanager.DeleteSecret';

export interface UnpeerRun {
  result: ScenarioResult;
  /** False when the run ended before its Nth write: the enumeration is complete. */
  reached: boolean;
}

export async function runUnpeerCrash(
  world: ChaosWorld,
  n: number,
  when: 'before' | 'after',
): Promise<UnpeerRun> {
  const id = `unpeer-crash-${when}-${n}`;
  const base = { id, family: 'crash' as const, fault: `peerctl SIGKILLed ${when} its write #${n}` };
  const setup = await runPeeringFlow(world, undefined, { evidence: () => Promise.resolve('setup') });
  if (setup.outcome !== 'converged')
    return {
      reached: true,
      result: { ...base, where: 'unpeer', ...setup, reason: `setup: ${setup.reason ?? ''}` },
    };
  world.effects.reset();
  const started = Date.now();
  let count = 0;
  let hit: RequestInfo | undefined;
  let child: OwnedProcess | undefined;
  let ended: { code: number | null; signal: string | null } | undefined;
  const kill = async (info: RequestInfo): Promise<void> => {
    hit = info;
    ended = await child?.kill('SIGKILL');
  };
  const action: FaultAction =
    when === 'before'
      ? { kind: 'drop-before', before: kill }
      : { kind: 'drop-after', after: (info) => kill(info) };
  const rule = {
    match: (info: RequestInfo) => isUnpeerWrite(info) && ++count === n,
    action,
    times: 1,
  };
  const handles = [world.dc1.httpLayer, world.dc2.httpLayer, world.awsLayer].map((layer) =>
    layer.inject(rule),
  );
  const first = await peerctlUnpeer(world, (p) => (child = p));
  for (const h of handles) h.remove();
  const reached = hit !== undefined;
  let reason: string | undefined;
  let runs = 1;
  let lastCode = first.code;
  while (lastCode !== 0 && runs < 4) {
    runs += 1;
    lastCode = (await peerctlUnpeer(world)).code;
  }
  if (lastCode !== 0) reason = `peerctl unpeer still exits ${String(lastCode)} after ${runs} runs`;
  const problems = await unpeeredViolations(world);
  if (problems.length > 0) reason ??= problems.join('; ');
  const where =
    hit === undefined
      ? 'unpeer (never reached)'
      : `unpeer: ${hit.target === '' ? `${hit.method} ${hit.path}` : hit.target}`;
  const evidence =
    hit === undefined
      ? 'none'
      : `peerctl ended by ${String(ended?.signal ?? ended?.code)}; ${runs} runs in all`;
  if (reached && ended?.signal !== 'SIGKILL') reason ??= 'peerctl was not killed';
  return {
    reached,
    result: {
      ...base,
      where,
      outcome: reason === undefined ? 'converged' : 'failed',
      ...(reason === undefined ? {} : { reason }),
      convergeMs: Date.now() - started,
      extraWrites: 0,
      secretVersionsAdded: 0,
      evidence,
    },
  };
}

async function peerctlUnpeer(
  world: ChaosWorld,
  onSpawn?: (p: OwnedProcess) => void,
): Promise<{ code: number | null; output: string }> {
  const child = new OwnedProcess(
    'peerctl unpeer',
    process.execPath,
    ['bin/peerctl.mjs', 'unpeer', 'dc1', 'dc2', '--aws', '--timeout', '60'],
    {
      env: { ...process.env, ...world.peerctlEnv },
    },
  );
  onSpawn?.(child);
  const code = await child.exited();
  await child.stop();
  return { code, output: child.output };
}

/** Resets the world for the next family (used by the runner after unpeer runs). */
export const resetAll = (world: ChaosWorld): Promise<void> => resetWorld(world);
