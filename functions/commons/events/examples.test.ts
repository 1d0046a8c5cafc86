import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { clusterSecretName, DEFAULT_SECRET_PREFIX, peeringTokenSecretName } from '../naming';
import { parseEvent } from './parse-event';
import { EVENT_TYPES, type ClusterRef, type PipelineEvent } from './schemas';

const examplesDir = path.resolve(__dirname, '../../../events/examples');

const loadExamples = async (): Promise<{ file: string; body: string }[]> =>
  Promise.all(
    (await readdir(examplesDir))
      .filter((file) => file.endsWith('.json'))
      .map(async (file) => ({ file, body: await readFile(path.join(examplesDir, file), 'utf8') })),
  );

const clustersOf = (event: PipelineEvent): ClusterRef[] =>
  event.type === 'cluster.registered' ? [event.data.cluster] : [event.data.acceptor, event.data.dialer];

describe('events/examples', () => {
  it('has one example per event type', async () => {
    const files = (await loadExamples()).map((example) => example.file).sort();
    expect(files).toEqual(EVENT_TYPES.map((type) => `${type}.json`).sort());
  });

  it('parses every example as the type its file is named for', async () => {
    for (const { file, body } of await loadExamples()) {
      expect({ file, type: parseEvent(body).type }).toEqual({ file, type: path.basename(file, '.json') });
    }
  });

  it('names secrets by the documented scheme', async () => {
    for (const { body } of await loadExamples()) {
      const event = parseEvent(body);
      for (const cluster of clustersOf(event)) {
        expect(cluster.connectionSecret).toBe(clusterSecretName(DEFAULT_SECRET_PREFIX, cluster.name));
      }
      if (event.type === 'peering.acceptor-ready') {
        const { acceptor, dialer, tokenSecret } = event.data;
        expect(tokenSecret).toBe(peeringTokenSecretName(DEFAULT_SECRET_PREFIX, acceptor.name, dialer.name));
      }
    }
  });
});
