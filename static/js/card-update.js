// Card update: mounts Stripe's Payment Element in setup mode and saves the card with
// confirmSetup; Stripe then returns the browser to data-return-url, where the server reads
// the SetupIntent from Stripe. Inputs come from data- attributes of #setup-form.
(function () {
  'use strict';

  var form = document.getElementById('setup-form');
  if (!form) {
    return;
  }
  var button = document.getElementById('pay-button');
  var message = document.getElementById('payment-message');
  var GENERIC_ERROR = 'Something went wrong saving the card. Please try again.';

  function showMessage(text) {
    message.textContent = text;
    message.hidden = false;
  }

  function hideMessage() {
    message.textContent = '';
    message.hidden = true;
  }

  function errorText(error) {
    if (error.type === 'card_error' && error.message) {
      return error.message; // Stripe's own wording for a declined card
    }
    if (error.type === 'validation_error') {
      return null; // shown next to the field by the Payment Element
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
  paymentElement.on('change', hideMessage);

  var submitting = false;
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    if (submitting) {
      return;
    }
    submitting = true;
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    hideMessage();

    stripe.confirmSetup({
      elements: elements,
      confirmParams: { return_url: form.dataset.returnUrl }
    }).then(function (result) {
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
