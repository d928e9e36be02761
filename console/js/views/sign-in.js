// @ts-check
import { ApiError, api } from '../api.js';
import { h, notice, replace } from '../dom.js';

/**
 * Sign in with the admin token. The token goes once, in a JSON body, to POST /api/session;
 * the answer sets an HttpOnly session cookie this code cannot read. The field is cleared
 * right after, and the token is never put in the address, storage or the page.
 * @param {{ main: HTMLElement, message: string | null, onSignedIn: (csrfToken: string) => void }} options
 */
export async function renderSignIn({ main, message, onSignedIn }) {
  const errorId = 'token-error';
  const input = /** @type {HTMLInputElement} */ (
    h('input', {
      id: 'token',
      name: 'token',
      type: 'password',
      autocomplete: 'current-password',
      spellcheck: 'false',
      required: true,
      'aria-describedby': 'token-hint',
    })
  );
  const fieldError = h('p', { id: errorId, class: 'field-error', hidden: true });
  const status = h('div');
  const button = /** @type {HTMLButtonElement} */ (
    h('button', { type: 'submit', class: 'primary' }, 'Sign in')
  );
  const form = h(
    'form',
    { novalidate: true, 'aria-labelledby': 'page-title' },
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'token' }, 'Admin token'),
      h(
        'p',
        { id: 'token-hint', class: 'hint' },
        'The token printed when the connector started (or the ADMIN_TOKEN it was given).',
      ),
      input,
      fieldError,
    ),
    button,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    replace(status);
    fieldError.hidden = true;
    input.removeAttribute('aria-invalid');
    input.setAttribute('aria-describedby', 'token-hint');
    const token = input.value.trim();
    if (token === '') {
      showFieldError('Enter the admin token.');
      return;
    }
    button.disabled = true;
    try {
      const session = await api('POST', '/api/session', { token });
      input.value = '';
      onSignedIn(session.csrfToken);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        showFieldError(
          'That token is not right. Use the admin token printed when the connector started.',
        );
      } else {
        replace(status, notice('error', err instanceof Error ? err.message : String(err)));
      }
    } finally {
      button.disabled = false;
    }
  });

  /** @param {string} text */
  function showFieldError(text) {
    fieldError.textContent = text;
    fieldError.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', `token-hint ${errorId}`);
    input.focus();
  }

  replace(
    main,
    h(
      'div',
      { class: 'narrow' },
      h('h1', { id: 'page-title', tabindex: '-1' }, 'Sign in'),
      message ? notice('info', message) : null,
      status,
      h('div', { class: 'card' }, form),
    ),
  );
  document.title = 'Sign in · InitLive Salesforce sync';
  input.focus();
}
