// @ts-check
import { h } from '../dom.js';

/**
 * A modal <dialog>: the browser traps focus inside, Escape cancels, and focus goes back to
 * what opened it. Resolves with the form's values on confirm, null on cancel.
 * @param {{ title: string, body: Array<Node | string>, confirmLabel: string, danger?: boolean,
 *           fields?: HTMLElement[], validate?: (form: HTMLFormElement) => boolean }} options
 * @returns {Promise<FormData | null>}
 */
export function openDialog({ title, body, confirmLabel, danger = false, fields = [], validate }) {
  const opener = /** @type {HTMLElement | null} */ (document.activeElement);
  return new Promise((resolve) => {
    const form = /** @type {HTMLFormElement} */ (
      h(
        'form',
        { method: 'dialog', novalidate: true },
        h('h2', { id: 'dialog-title' }, title),
        ...body,
        ...fields,
        h(
          'div',
          { class: 'actions' },
          h(
            'button',
            {
              type: 'submit',
              value: 'confirm',
              class: danger ? 'danger primary' : 'primary',
              id: 'dialog-confirm',
            },
            confirmLabel,
          ),
          h(
            'button',
            { type: 'button', id: 'dialog-cancel', onclick: () => dialog.close('cancel') },
            'Cancel',
          ),
        ),
      )
    );
    const dialog = /** @type {HTMLDialogElement} */ (
      h('dialog', { 'aria-labelledby': 'dialog-title' }, form)
    );
    form.addEventListener('submit', (e) => {
      if (validate && !validate(form)) {
        e.preventDefault();
        return;
      }
      e.preventDefault();
      dialog.close('confirm');
    });
    dialog.addEventListener('close', () => {
      const values = dialog.returnValue === 'confirm' ? new FormData(form) : null;
      dialog.remove();
      if (opener && document.contains(opener)) opener.focus();
      resolve(values);
    });
    document.body.append(dialog);
    dialog.showModal();
    // The first field, or the safe choice (Cancel) of a confirmation.
    const first = /** @type {HTMLElement | null} */ (form.querySelector('input, select'));
    (first ?? /** @type {HTMLElement} */ (form.querySelector('#dialog-cancel'))).focus();
  });
}
