'use strict';
// Scope: a step (or agent) of an execution, with an optional budget of its own. Its calls
// count toward its own limit and every limit above it (parent scopes, the execution). Labels
// are unique within an execution: asking for a label again returns the same scope.
const { native, invalid } = require('./errors.cjs');
const { budgetNanos } = require('./convert.cjs');
const { runWith } = require('./context.cjs');

class Scope {
  /** Made by `workflow.scope(label)` or `scope.child(label)`, not directly. */
  constructor(workflow, nativeScope) {
    this.workflow = workflow;
    this._native = nativeScope;
    /** The label its calls are recorded under. */
    this.label = nativeScope.label;
  }

  /** The scope `label` nested in this one (created on first use), checked against this one's budget too. */
  async child(label, { budgetUsd } = {}) {
    checkLabel(label);
    const budget = budgetNanos(await this.workflow.engine(), budgetUsd);
    return new Scope(this.workflow, native(() => this._native.child(label, budget)));
  }

  /** Runs `fn(child)` in the child scope `label`: calls made in it are charged there. */
  async step(label, fn, { budgetUsd } = {}) {
    return (await this.child(label, { budgetUsd }))._run(fn);
  }

  /** Reserves the worst case of a call on this scope (see `WfloWorkflow.reserve`). */
  reserve(request) {
    return this.workflow.reserve(request, this);
  }

  /** Reserves a provider request on this scope (see `WfloWorkflow.reserveRequest`). */
  reserveRequest(format, body, options) {
    return this.workflow.reserveRequest(format, body, options, this);
  }

  /** `reserve` without the promise (see `WfloWorkflow.reserveSync`). */
  reserveSync(request) {
    return this.workflow.reserveSync(request, this);
  }

  _run(fn) {
    return runWith({ workflow: this.workflow, scope: this }, () => fn(this));
  }

  toString() {
    return `Scope(${this.label})`;
  }
}

// The type only: what a label may hold (not empty, its length, its characters) is core's rule.
function checkLabel(label) {
  if (typeof label !== 'string') throw invalid('a step label must be a string');
}

module.exports = { Scope, checkLabel };
