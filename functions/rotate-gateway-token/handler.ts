import type { Logger } from '@aws-lambda-powertools/logger';
import middy from '@middy/core';
import * as z from 'zod/mini';
import { ValidationError } from '#commons/errors';
import { preview, toValidationError } from '#commons/events/validation-error';
import {
  ROTATION_STEPS,
  rotateGatewayToken,
  RotationRequestSchema,
  type GatewayTokenRotationContext,
  type RotationStep,
} from '#commons/workflows/rotate-gateway-token';

/**
 * Secrets Manager's rotation call (`{SecretId, ClientRequestToken, Step}`) → one step of
 * `rotateGatewayToken`. A thrown error fails the step: Secrets Manager marks the rotation failed and
 * keeps AWSCURRENT as it was; the next rotation (scheduled, or `peerctl rotate`) runs the steps again.
 */
export function createRotateGatewayTokenHandler(context: GatewayTokenRotationContext, logger: Logger) {
  return middy<unknown, { step: RotationStep; changed: boolean }>().handler(async (event) => {
    const parsed = z.safeParse(RotationRequestSchema, event, { reportInput: true });
    if (!parsed.success) {
      const invalid = toValidationError(parsed.error.issues);
      const given = parsed.error.issues[0]?.input;
      throw new ValidationError(
        `rotation request: ${invalid.message}${given === undefined ? '' : ` (got ${preview(given)})`}; ` +
          `Secrets Manager sends {SecretId, ClientRequestToken, Step: ${ROTATION_STEPS.join('|')}}`,
        invalid.field,
      );
    }
    const { SecretId: secretId, ClientRequestToken: versionId, Step: step } = parsed.data;
    try {
      return await rotateGatewayToken({ secretId, versionId, step }, context);
    } catch (error) {
      logger.error('gateway token rotation step failed', {
        step,
        secretId,
        versionId,
        error: error instanceof Error ? error.message : String(error),
      });
      throw error;
    }
  });
}
