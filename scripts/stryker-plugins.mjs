// Stryker plugins of this project (stryker.config.mjs loads them).
import { declareValuePlugin, PluginKind } from '@stryker-mutator/api/plugin';

const LOG_METHODS = new Set(['info', 'warn', 'error', 'debug']);

/**
 * `WorkflowLog`: mutants inside a call `<anything>.log.info(...)` / `.warn(...)` are not tested, by
 * design: a log message can be reworded, or an attribute added, without breaking anything
 * (docs: /work/shared/DESIGN.md "Signs the design is right"). What a watcher must be told goes
 * through typed hooks (`onWaiting`), which are mutated and tested like any other code.
 */
const workflowLogCalls = declareValuePlugin(PluginKind.Ignore, 'WorkflowLogCalls', {
  shouldIgnore(path) {
    if (!path.isExpressionStatement()) return undefined;
    const call = path.node.expression;
    if (call.type !== 'CallExpression' || call.callee.type !== 'MemberExpression') return undefined;
    const { object, property } = call.callee;
    const objectName =
      object.type === 'Identifier'
        ? object.name
        : object.type === 'MemberExpression' && object.property.type === 'Identifier'
          ? object.property.name
          : undefined;
    if (objectName !== 'log' || property.type !== 'Identifier' || !LOG_METHODS.has(property.name)) {
      return undefined;
    }
    return 'a log line may be reworded without breaking anything; hooks carry what watchers need';
  },
});

export const strykerPlugins = [workflowLogCalls];
