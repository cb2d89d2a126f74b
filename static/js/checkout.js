// Mounts Stripe's Payment Element and confirms it: a payment on the checkout page
// (#payment-form, confirmPayment) or, on the card-update page, a card saved for later
// (#setup-form, data-confirm="setup", confirmSetup). Stripe then returns the browser to
// data-return-url, where the server reads the outcome from Stripe. Reads its inputs from the
// form's data- attributes; uses only documented Stripe.js calls (Stripe, elements, create,
// mount, on, confirmPayment, confirmSetup).
(function () {
  'use strict';

  var form = document.getElementById('payment-form') || document.getElementById('setup-form');
  if (!form) {
    return;
  }
  var button = document.getElementById('pay-button');
  var message = document.getElementById('payment-message');
  var saving = form.dataset.confirm === 'setup';
  var GENERIC_ERROR = saving
    ? 'Something went wrong saving the card. Please try again.'
    : 'Something went wrong with the payment. Nothing was charged; please try again.';

  function showMessage(text) {
    message.textContent = text;
    message.hidden = false;
  }

  function hideMessage() {
    message.textContent = '';
    message.hidden = true;
  }

  function errorText(error) {
    // Stripe's own wording is shown for card errors only; anything else gets our text.
    if (error.type === 'card_error' && error.message) {
      return error.message;
    }
    if (error.code === 'too_many_declines' && error.message) {
      return error.message; // our cool-down after repeated declines (test mode only)
    }
    if (error.type === 'validation_error') {
      return null; // the Payment Element shows these next to the field itself
    }
    return GENERIC_ERROR;
  }

  var stripe = Stripe(form.dataset.publishableKey);
  var elements = stripe.elements({
    clientSecret: form.dataset.clientSecret,
    appearance: { theme: 'stripe', variables: { colorPrimary: '#1d4ed8', borderRadius: '8px' } }
  });
  var paymentElement = elements.create('payment');
  paymentElement.mount('#payment-element');
  paymentElement.on('ready', function () {
    button.disabled = false;
  });
  paymentElement.on('change', function () {
    hideMessage();
  });

  var submitting = false;
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    if (submitting) {
      return; // double-submit guard: one confirmation at a time
    }
    submitting = true;
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    hideMessage();

    var confirm = saving ? stripe.confirmSetup : stripe.confirmPayment;
    confirm.call(stripe, {
      elements: elements,
      confirmParams: { return_url: form.dataset.returnUrl }
    }).then(function (result) {
      // Stripe.js resolves only when it did not redirect, i.e. on an error.
      var text = result && result.error ? errorText(result.error) : null;
      if (text) {
        showMessage(text);
      }
    }, function () {
      showMessage(GENERIC_ERROR);
    }).then(function () {
      submitting = false;
      button.disabled = false;
      button.removeAttribute('aria-busy');
    });
  });
})();
