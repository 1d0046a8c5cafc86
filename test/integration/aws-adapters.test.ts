import {
  CreateSecretCommand,
  DescribeSecretCommand,
  ListSecretVersionIdsCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { SecretsManagerSecretStore } from '#commons/aws/secrets-manager-secret-store';
import { SqsQueue } from '#commons/aws/sqs-queue';
import { secretKeyFindings } from '#commons/workflows/drift/secret-keys';
import { startMoto, type MotoServer } from '#devkit/moto';

// The adapters against a real moto server that this file starts itself. If moto cannot start, every
// test here fails with the reason: an AWS adapter must never pass untested.
let moto: MotoServer | undefined;
let startError: unknown;
// Assigned exactly when moto started; beforeEach fails every test otherwise.
let secretsManager!: SecretsManagerClient;
let sqs!: SQSClient;

beforeAll(async () => {
  try {
    moto = await startMoto();
  } catch (error) {
    startError = error;
    return;
  }
  secretsManager = new SecretsManagerClient(moto.clientConfig);
  sqs = new SQSClient(moto.clientConfig);
}, 30_000);

beforeEach(async () => {
  if (moto === undefined) throw startError instanceof Error ? startError : new Error(String(startError));
  await moto.reset();
});

afterAll(async () => {
  if (moto === undefined) return;
  secretsManager.destroy();
  sqs.destroy();
  await moto.stop();
});

const versionCount = async (name: string): Promise<number> => {
  const { Versions } = await secretsManager.send(
    new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true }),
  );
  return Versions?.length ?? 0;
};

describe('SecretsManagerSecretStore on moto', () => {
  const store = (): SecretsManagerSecretStore => new SecretsManagerSecretStore(secretsManager);

  test('creates with tags and description, then adds a version only when the value changes', async () => {
    const first = await store().put('peering/dc1/token', 'v1', {
      description: 'peering token',
      tags: { 'managed-by': 'consul-peering-automation', cluster: 'dc1' },
    });
    expect(first.changed).toBe(true);

    const replay = await store().put('peering/dc1/token', 'v1', { tags: { ignored: 'on-update' } });
    expect(replay).toEqual({ versionId: first.versionId, changed: false });
    expect(await versionCount('peering/dc1/token')).toBe(1);

    const second = await store().put('peering/dc1/token', 'v2');
    expect(second.changed).toBe(true);
    expect(second.versionId).not.toBe(first.versionId);
    expect(await versionCount('peering/dc1/token')).toBe(2);

    const described = await secretsManager.send(new DescribeSecretCommand({ SecretId: 'peering/dc1/token' }));
    expect(described.Description).toBe('peering token');
    expect(described.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'managed-by', Value: 'consul-peering-automation' },
        { Key: 'cluster', Value: 'dc1' },
      ]),
    );
    expect(described.Tags).toHaveLength(2);
  });

  test('encrypts what it creates with its KMS key, and drift reports a service secret without it', async () => {
    const key = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const keyed = new SecretsManagerSecretStore(secretsManager, { kmsKeyId: key });
    await keyed.put('consul-peering/gateway-tokens/dc1', '{"secretId":"x"}', { tags: { kind: 'gateway' } });
    // A new version of a keyed secret stays under the key (Secrets Manager keeps the secret's key).
    await keyed.put('consul-peering/gateway-tokens/dc1', '{"secretId":"y"}');
    const described = await secretsManager.send(
      new DescribeSecretCommand({ SecretId: 'consul-peering/gateway-tokens/dc1' }),
    );
    expect(described.KmsKeyId).toBe(key);

    // Written before the key was configured (or by hand): under the AWS managed key.
    await store().put('consul-peering/clusters/dc1', '{"address":"http://x:8500"}');
    await store().put('consul-peering/peerings/dc1/dc2', '{}');
    await keyed.put('consul-peering/slack-responses/r1', 'https://hooks.slack.com/x');

    const listed = await keyed.list({ namePrefix: 'consul-peering/' });
    expect(listed.find((s) => s.name === 'consul-peering/gateway-tokens/dc1')?.kmsKeyId).toBe(key);
    const findings = secretKeyFindings('consul-peering', listed, key);
    expect(findings.map((f) => [f.kind, f.cluster, f.peer])).toEqual([
      ['secret-not-under-our-key', 'dc1', undefined],
      ['secret-not-under-our-key', 'dc1', 'dc2'],
    ]);
    expect(findings[0]?.detail).toContain('consul-peering/clusters/dc1');
    expect(findings[0]?.remedy).toContain('update-secret');
    // The bare key id names the same key.
    expect(secretKeyFindings('consul-peering', listed, '1234abcd-12ab-34cd-56ef-1234567890ab')).toHaveLength(
      2,
    );
  });

  test('gets the current version, a version by id and the previous one by stage', async () => {
    const first = await store().put('conn/dc1', 'one');
    const second = await store().put('conn/dc1', 'two');

    expect(await store().get('conn/dc1')).toEqual({
      name: 'conn/dc1',
      versionId: second.versionId,
      value: 'two',
    });
    expect(await store().get('conn/dc1', { versionId: first.versionId })).toEqual({
      name: 'conn/dc1',
      versionId: first.versionId,
      value: 'one',
    });
    expect(await store().get('conn/dc1', { versionStage: 'AWSPREVIOUS' })).toMatchObject({
      versionId: first.versionId,
      value: 'one',
    });
    expect(await store().get('conn/absent')).toBeUndefined();
  });

  test('puts a value into a secret that was created without one', async () => {
    await secretsManager.send(new CreateSecretCommand({ Name: 'conn/empty' }));
    const result = await store().put('conn/empty', 'filled');
    expect(result.changed).toBe(true);
    expect(await store().get('conn/empty')).toMatchObject({ value: 'filled', versionId: result.versionId });
  });

  test('lists by name prefix and exact tag pairs, across pages', async () => {
    const owned = { 'managed-by': 'consul-peering-automation' };
    await store().put('peering/a', 'x', { tags: { ...owned, cluster: 'dc1' } });
    await store().put('peering/b', 'x', { tags: { ...owned, cluster: 'dc2' } });
    // Carries a tag key and a tag value we ask for, but not as a pair: AWS-side filters would match it.
    await store().put('peering/c', 'x', {
      tags: { 'managed-by': 'dc1', cluster: 'consul-peering-automation' },
    });
    await store().put('other/a', 'x', { tags: { ...owned, cluster: 'dc1' } });
    for (let i = 0; i < 105; i++)
      await store().put(`bulk/${String(i).padStart(3, '0')}`, 'x', { tags: owned });

    expect(await store().list({ namePrefix: 'peering/', tags: { ...owned, cluster: 'dc1' } })).toEqual([
      { name: 'peering/a', tags: { ...owned, cluster: 'dc1' } },
    ]);
    const names = (await store().list({ namePrefix: 'peering/' })).map((secret) => secret.name).sort();
    expect(names).toEqual(['peering/a', 'peering/b', 'peering/c']);
    expect(await store().list({ namePrefix: 'bulk/', tags: owned })).toHaveLength(105);
  });

  test('deletes, and deleting an absent or already deleted secret is a no-op', async () => {
    await store().delete('never/existed');
    await store().delete('never/existed', { forceWithoutRecovery: true });

    await store().put('conn/gone', 'x');
    await store().delete('conn/gone');
    await store().delete('conn/gone'); // replay while scheduled for deletion
    expect(await store().list({ namePrefix: 'conn/' })).toEqual([]);

    await store().put('conn/now', 'x');
    await store().delete('conn/now', { forceWithoutRecovery: true });
    expect(await store().get('conn/now')).toBeUndefined();
  });
});

describe('SqsQueue on moto', () => {
  const createQueue = async (name: string, attributes: Record<string, string> = {}): Promise<string> => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    if (QueueUrl === undefined) throw new Error(`moto returned no URL for ${name}`);
    return QueueUrl;
  };

  /** Receives until `count` messages arrived or the deadline passed (never a fixed sleep). */
  const receiveAll = async (queueUrl: string, count: number, deadlineMs = 10_000): Promise<Message[]> => {
    const messages: Message[] = [];
    const deadline = Date.now() + deadlineMs;
    while (messages.length < count && Date.now() < deadline) {
      const { Messages } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          VisibilityTimeout: 60,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
        }),
      );
      messages.push(...(Messages ?? []));
    }
    return messages;
  };

  test('standard queue: attributes and a per-message delay', async () => {
    const queueUrl = await createQueue('work');
    const queue = new SqsQueue({ queueUrl, client: sqs });

    const sentAt = Date.now();
    const { messageId } = await queue.send({
      body: '{"type":"peering.requested"}',
      attributes: { 'event-type': 'peering.requested', 'correlation-id': 'c-1' },
      delaySeconds: 1,
    });

    const immediately = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0 }));
    expect(immediately.Messages ?? []).toHaveLength(0);

    const [message] = await receiveAll(queueUrl, 1);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(900);
    expect(message?.MessageId).toBe(messageId);
    expect(message?.Body).toBe('{"type":"peering.requested"}');
    expect(message?.MessageAttributes).toEqual({
      'event-type': { DataType: 'String', StringValue: 'peering.requested' },
      'correlation-id': { DataType: 'String', StringValue: 'c-1' },
    });
  });
});
