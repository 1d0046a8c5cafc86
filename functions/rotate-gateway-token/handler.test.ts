import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { ValidationError } from '#commons/errors';
import type { GatewayTokenRotationContext } from '#commons/workflows/rotate-gateway-token';
import { createRotateGatewayTokenHandler } from './handler';

// Bad input never reaches the workflow: every port of this context throws if touched.
const untouchable = new Proxy({} as GatewayTokenRotationContext, {
  get: (_target, key) => {
    if (key === 'secretPrefix') return 'consul-peering';
    throw new Error(`the workflow touched ${String(key)} on bad input`);
  },
});
const handler = createRotateGatewayTokenHandler(untouchable, new Logger({ logLevel: 'SILENT' }));
const invoke = (event: unknown) => handler(event, {} as Context);
const VALID = {
  SecretId: 'consul-peering/gateway-tokens/dc1',
  ClientRequestToken: 'version-1',
  Step: 'createSecret',
};

test.each([
  [
    'a Step outside the contract',
    { ...VALID, Step: 'rotate' },
    'Step',
    /^rotation request: Step: .* \(got "rotate"\); Secrets Manager sends \{SecretId, ClientRequestToken, Step: createSecret\|setSecret\|testSecret\|finishSecret\}$/,
  ],
  [
    'a missing SecretId',
    { ClientRequestToken: 'v', Step: 'setSecret' },
    'SecretId',
    /^rotation request: SecretId is required/,
  ],
  [
    'an empty ClientRequestToken',
    { ...VALID, ClientRequestToken: '' },
    'ClientRequestToken',
    /ClientRequestToken: .*\(got ""\)/,
  ],
  ['not an object', 'createSecret', '', /^rotation request: event: .*\(got "createSecret"\)/],
])(
  '%s is refused naming the field, what is expected and what was given',
  async (_name, event, field, message) => {
    const refusal = await invoke(event).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(ValidationError);
    expect(refusal).toMatchObject({ field });
    expect((refusal as Error).message).toMatch(message);
  },
);
