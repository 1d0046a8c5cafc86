import { PermanentError } from '#commons/errors';
import type { SecretStore } from '#commons/ports/secret-store';

/**
 * The Slack app's signing secret, read from the secret store on first use and then kept for the life of
 * the execution environment (once per cold start). A failed read is not kept, so the next request
 * tries again instead of the environment staying broken until it is recycled.
 */
export function slackSigningSecretLoader(secrets: SecretStore, secretName: string): () => Promise<string> {
  let pending: Promise<string> | undefined;
  const load = async (): Promise<string> => {
    const stored = await secrets.get(secretName);
    const value = stored?.value.trim() ?? '';
    if (value === '') {
      throw new PermanentError(
        `the Slack signing secret '${secretName}' is missing or empty; store the app's signing secret there as plain text`,
        'misconfigured',
      );
    }
    return value;
  };
  return () => {
    pending ??= load().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
