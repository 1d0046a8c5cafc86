import { toxiproxyBinary } from '#devkit/toxiproxy';
import { startChaosWorld, type ChaosWorld } from '#devkit/chaos-world';
import {
  awsScenarios,
  namedCrashScenarios,
  networkScenarios,
  restartScenarios,
  runBaseline,
  runUnpeerCrash,
  type Baseline,
  type Scenario,
  type ScenarioResult,
} from '#devkit/chaos-scenarios';

// The CI subset of the fault matrix (`npm run chaos` runs all of it): one representative scenario or a
// few per family, each from a blank state, each asserting that its fault really happened and that
// the pipeline converged (read from Consul and Secrets Manager directly; see devkit/convergence.ts).
// Nothing here asserts a time: faults last for fixed periods, and checks poll with deadlines.
let world: ChaosWorld;
let baseline: Baseline;

beforeAll(async () => {
  toxiproxyBinary(); // fails with what to do when it cannot be built
  world = await startChaosWorld();
  baseline = await runBaseline(world);
}, 240_000);

afterAll(async () => {
  await world.stop();
});

const expectConverged = (result: ScenarioResult): void => {
  expect({ id: result.id, outcome: result.outcome, reason: result.reason }).toEqual({
    id: result.id,
    outcome: 'converged',
    reason: undefined,
  });
  expect(result.evidence).not.toBe('none');
};

const runAll = async (scenarios: Scenario[]): Promise<void> => {
  const results: ScenarioResult[] = [];
  for (const s of scenarios) results.push(await s.run(world, baseline));
  for (const r of results) expectConverged(r);
};

const pick = (scenarios: Scenario[], ids: string[]): Scenario[] => {
  const picked = scenarios.filter((s) => ids.includes(s.id));
  expect(picked.map((s) => s.id).sort()).toEqual([...ids].sort());
  return picked;
};

test('the fault-free run is what the matrix compares with: onboard x2, accept, dial', () => {
  const named = baseline.effects.map((e) => `${e.port}:${e.operation}`);
  expect(named).toEqual(
    expect.arrayContaining(['consul:createPolicy', 'consul:generatePeeringToken', 'consul:establishPeering']),
  );
  expect(named.at(-1)).toBe('events:publish'); // peering.established
});

test('the function crashes at the points the issue names; each redelivery converges', async () => {
  await runAll(namedCrashScenarios(baseline));
}, 600_000);

test('peerctl unpeer SIGKILLed before its second write, then run again, deletes everything', async () => {
  const { result, reached } = await runUnpeerCrash(world, 2, 'before');
  expect(reached).toBe(true);
  expectConverged(result);
}, 300_000);

// restart-dc2-activation once dead-lettered about 1 run in 3 (a restarted server read the gateway token
// as absent, then refused its creation): docs/chaos.md, "What the faults found". It stays in CI.
test("the acceptor's Consul is killed during accept and after establish, the dialer's during onboarding and after establish; all restart with their state", async () => {
  await runAll(
    pick(restartScenarios(), [
      'restart-dc1-accept',
      'restart-dc1-activation',
      'restart-dc2-onboarding',
      'restart-dc2-activation',
    ]),
  );
}, 500_000);

test('network faults: latency on Consul, a black-holed gateway, Consul down and back', async () => {
  await runAll(pick(networkScenarios(), ['latency-consul-dc1', 'blackhole-gateway-dc1', 'down-consul-dc2']));
}, 500_000);

test('AWS faults: Secrets Manager 5xx for a while, SQS throttling', async () => {
  await runAll(pick(awsScenarios(), ['sm-5xx-5s', 'sqs-send-throttle']));
}, 400_000);
