/**
 * A form for each operator action the task's state allows (ACTION_FROM), with the options the
 * CLI has: `resume --from / --reset-budget / --force`, `skip --capture`, `complete --partial`.
 * Every form needs a reason. What would repeat an effect (`resume --from` over steps that
 * changed something, `retry` of a once step without a probe) is refused by the action itself
 * with CONFIRMATION_REQUIRED, and the console then asks, as the CLI's `--yes` does.
 */
import type { OperatorAction } from '../../lifecycle/vocabulary.js';
import { html, type SafeHtml } from './html.js';
import type { Confirmation, StepInfo, TaskPage } from './model.js';

/** What each action does, in the words of its button's help line. */
export const ACTION_HELP: Record<OperatorAction, string> = {
  approve: 'Approve the gate; automation continues.',
  deny: 'Deny the approval; the task escalates (or rolls back if its step says so).',
  takeover: 'Take the task over: automation pauses until you act. Do this before working on the system by hand.',
  resume: 'Continue automation from the current step (or from an earlier one).',
  retry: 'Run the current step again now (a once step with a probe checks first).',
  skip: 'Mark the current step done by hand and continue with the next.',
  rollback: 'Undo the completed steps, newest first.',
  complete: 'Close the task as finished by hand.',
  fail: 'Close the task as failed.',
  cancel: 'Stop the task now.',
};

/** Actions that end or undo work: shown in the danger style. */
const FINAL_ACTIONS: readonly OperatorAction[] = ['rollback', 'complete', 'fail', 'cancel', 'deny'];
/** Of those, the ones folded away unless recommended (a deny is an answer to an approval, kept beside approve). */
const CLOSING_ACTIONS: readonly OperatorAction[] = ['rollback', 'complete', 'fail', 'cancel'];

const actionUrl = (taskId: string, action: OperatorAction) => `/tasks/${encodeURIComponent(taskId)}/actions/${action}`;

function reasonField(action: OperatorAction, value = ''): SafeHtml {
  return html`<label class="reason">Reason <span class="muted">(recorded in the ledger with your name)</span>
    <textarea name="reason" required minlength="1" rows="2" data-testid="reason-${action}" placeholder="why: what you checked, what you decided">${value}</textarea></label>`;
}

function options(action: OperatorAction, p: TaskPage): SafeHtml {
  const current = p.view.currentStep;
  const step = p.plan.find((s) => s.id === current);
  switch (action) {
    case 'resume': {
      const at = current ? p.plan.findIndex((s) => s.id === current) : p.plan.length - 1;
      const earlier = p.plan.slice(0, Math.max(0, at) + 1);
      return html`${
        earlier.length > 1
          ? html`<label>From step <select name="from"><option value="">${current ?? 'the current step'} (current)</option>${earlier
              .filter((s) => s.id !== current)
              .map((s) => html`<option value="${s.id}">${s.id}${s.changes ? ` (changes ${s.repeat})` : ''}</option>`)}</select></label>`
          : ''
      }
      <label class="check"><input type="checkbox" name="resetBudget" value="1"> give it a fresh retry budget (${p.view.retryBudget.used} of ${p.view.retryBudget.limit} used)</label>
      ${p.view.state === 'failed' ? html`<label class="check"><input type="checkbox" name="force" value="1" required> resume a failed task (resets its retry budget)</label>` : ''}`;
    }
    case 'retry':
      return step?.repeat === 'once' && !step.hasProbe
        ? html`<p class="warn-note">${step.id} is a once step without a probe: running it again may repeat its effect. You will be asked to confirm.</p>`
        : html``;
    case 'skip':
      return html`<label>Captures <span class="muted">(optional: what the step would have captured, one <code>name=value</code> a line)</span>
        <textarea name="capture" rows="2" placeholder="restartId=rst_123"></textarea></label>`;
    case 'complete':
      return html`<label class="check"><input type="checkbox" name="partial" value="1"> close as partially completed</label>`;
    default:
      return html``;
  }
}

function form(action: OperatorAction, p: TaskPage, csrf: string, recommended: boolean): SafeHtml {
  const tone = recommended ? 'primary' : FINAL_ACTIONS.includes(action) ? 'danger' : '';
  return html`<form method="post" action="${actionUrl(p.view.id, action)}" class="action ${tone}" data-testid="form-${action}">
  <input type="hidden" name="_csrf" value="${csrf}">
  <h4>${action}${recommended ? html` <span class="badge ok">recommended</span>` : ''}</h4>
  <p class="help">${ACTION_HELP[action]}</p>
  ${options(action, p)}
  ${reasonField(action)}
  <button class="${tone}" data-testid="do-${action}">${action[0]!.toUpperCase()}${action.slice(1)}</button>
</form>`;
}

/** The action forms of a task page: the recommended one first, then the others that keep the task going, then (folded) those that close or undo it. */
export function renderActionForms(p: TaskPage, csrf: string): SafeHtml {
  if (!p.allowed.length) return html`<p class="muted">No operator action is possible: the task is ${p.view.state.replace(/_/g, ' ')}.</p>`;
  const rec = p.packetNow ? undefined : p.packet?.recommendation.action ?? undefined;
  const first = rec && p.allowed.includes(rec) ? [rec] : [];
  const rest = p.allowed.filter((a) => a !== rec);
  const going = rest.filter((a) => !CLOSING_ACTIONS.includes(a));
  const closing = rest.filter((a) => CLOSING_ACTIONS.includes(a));
  return html`<div class="actions">${first.map((a) => form(a, p, csrf, true))}${going.map((a) => form(a, p, csrf, false))}</div>
${
  closing.length
    ? html`<details class="closing"${first.length + going.length === 0 ? html` open` : ''}><summary>Close, undo or stop the task: ${closing.join(', ')}</summary><div class="actions">${closing.map((a) => form(a, p, csrf, false))}</div></details>`
    : ''
}`;
}

/** The page that asks before an action repeats an effect, carrying the form's values and `yes`. */
export function renderConfirmation(taskId: string, c: Confirmation, csrf: string, steps: StepInfo[]): SafeHtml {
  const hidden = Object.entries(c.fields)
    .filter(([k]) => k !== '_csrf' && k !== 'yes')
    .map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`);
  const changed = c.plan?.changed ?? [];
  return html`<h1>Confirm ${c.action}</h1>
<div class="alert" role="alert" data-testid="confirm-message"><p><strong>${c.message}</strong></p>
${
  c.plan
    ? html`<p>Runs again: ${c.plan.rerun.join(', ') || 'nothing'}.</p>${
        changed.length
          ? html`<p>Steps that changed something and would run again:</p><ul>${changed.map((id) => {
              const s = steps.find((x) => x.id === id);
              return html`<li><strong>${id}</strong>${s ? ` (${s.action}, repeat ${s.repeat})` : ''}</li>`;
            })}</ul>`
          : ''
      }`
    : ''
}</div>
<form method="post" action="${actionUrl(taskId, c.action)}" class="action danger" data-testid="form-confirm">
  <input type="hidden" name="_csrf" value="${csrf}">
  ${hidden}
  <input type="hidden" name="yes" value="1">
  <p>Reason: “${c.fields.reason ?? ''}”</p>
  <button class="danger" data-testid="do-confirm">I checked: ${c.action} anyway</button>
  <a class="button" href="/tasks/${encodeURIComponent(taskId)}">Go back, change nothing</a>
</form>`;
}
