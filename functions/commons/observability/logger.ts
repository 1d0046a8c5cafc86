import { Logger } from '@aws-lambda-powertools/logger';
import type { WorkflowLog } from '../workflows/context';
import { redactingReplacer } from './redact';

/** Structured JSON logs (Powertools) with redaction built in; the correlation id is added per record. */
export function createLogger(serviceName: string): Logger {
  return new Logger({
    serviceName,
    logLevel: (process.env.LOG_LEVEL as 'INFO' | 'DEBUG' | 'WARN' | 'ERROR' | undefined) ?? 'INFO',
    jsonReplacerFn: redactingReplacer,
  });
}

/** The workflows' logging port over a Powertools Logger. */
export function workflowLog(logger: Logger): WorkflowLog {
  return {
    info: (message, attributes = {}) => {
      logger.info(message, attributes);
    },
    warn: (message, attributes = {}) => {
      logger.warn(message, attributes);
    },
  };
}
