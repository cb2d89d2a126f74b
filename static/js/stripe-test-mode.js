// Test mode only: a stand-in for Stripe.js, which cannot load offline.
// It implements exactly the Stripe.js calls checkout.js makes -- Stripe(), elements(),
// create('payment'), mount(), on(), confirmPayment(), retrievePaymentIntent(), and
// confirmSetup() for the card-update page -- and confirms through the storefront's test-mode
// routes, which confirm on the Stripe emulator.
// It decides no outcome itself: the server maps Stripe's documented test card numbers to
// Stripe's test payment methods and the emulator pays or declines them as Stripe would.
(function () {
  'use strict';

  var script = document.currentScript;
  var confirmUrl = script.dataset.confirmUrl;
  var retrieveUrl = script.dataset.retrieveUrl;
  var confirmSetupUrl = script.dataset.confirmSetupUrl;

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : '';
  }

  function digits(value) {
    return (value || '').replace(/\D/g, '');
  }

  function field(id, label, attrs) {
    var wrapper = document.createElement('div');
    wrapper.className = 'pe-field';
    var labelEl = document.createElement('label');
    labelEl.htmlFor = id;
    labelEl.textContent = label;
    var input = document.createElement('input');
    input.id = id;
    Object.keys(attrs).forEach(function (key) { input.setAttribute(key, attrs[key]); });
    wrapper.appendChild(labelEl);
    wrapper.appendChild(input);
    return { wrapper: wrapper, input: input };
  }

  function PaymentElement() {
    this.handlers = {};
    this.inputs = null;
    this.errorEl = null;
  }

  PaymentElement.prototype.on = function (name, handler) {
    (this.handlers[name] = this.handlers[name] || []).push(handler);
    return this;
  };

  PaymentElement.prototype.emit = function (name, payload) {
    (this.handlers[name] || []).forEach(function (handler) { handler(payload); });
  };

  PaymentElement.prototype.mount = function (target) {
    var container = typeof target === 'string' ? document.querySelector(target) : target;
    container.textContent = '';
    container.classList.add('pe-test-mode');
    var number = field('pe-card-number', 'Card number', {
      inputmode: 'numeric', autocomplete: 'cc-number', placeholder: '1234 1234 1234 1234',
      maxlength: '23', name: 'cardnumber'
    });
    var row = document.createElement('div');
    row.className = 'pe-row';
    var expiry = field('pe-card-expiry', 'Expiry', {
      inputmode: 'numeric', autocomplete: 'cc-exp', placeholder: 'MM / YY', maxlength: '7',
      name: 'exp-date'
    });
    var cvc = field('pe-card-cvc', 'CVC', {
      inputmode: 'numeric', autocomplete: 'cc-csc', placeholder: '123', maxlength: '4', name: 'cvc'
    });
    row.appendChild(expiry.wrapper);
    row.appendChild(cvc.wrapper);
    // Read out when it appears, and tied to the field it is about (as Stripe's own element does).
    this.errorEl = document.createElement('p');
    this.errorEl.className = 'pe-error';
    this.errorEl.id = 'pe-card-error';
    this.errorEl.setAttribute('role', 'alert');
    this.errorEl.hidden = true;
    container.appendChild(number.wrapper);
    container.appendChild(row);
    container.appendChild(this.errorEl);
    this.inputs = { number: number.input, expiry: expiry.input, cvc: cvc.input };

    var self = this;
    [number.input, expiry.input, cvc.input].forEach(function (input) {
      input.addEventListener('input', function () {
        self.clearError();
        self.emit('change', { elementType: 'payment', empty: !digits(number.input.value),
                              complete: !self.validationError(), value: { type: 'card' } });
      });
    });
    setTimeout(function () { self.emit('ready', { elementType: 'payment' }); }, 0);
  };

  PaymentElement.prototype.validationError = function () {
    var number = digits(this.inputs.number.value);
    var expiry = digits(this.inputs.expiry.value);
    var cvc = digits(this.inputs.cvc.value);
    if (number.length < 13) {
      return { type: 'validation_error', code: 'incomplete_number',
               message: 'Your card number is incomplete.' };
    }
    if (expiry.length !== 4) {
      return { type: 'validation_error', code: 'incomplete_expiry',
               message: "Your card's expiration date is incomplete." };
    }
    var month = parseInt(expiry.slice(0, 2), 10);
    var year = 2000 + parseInt(expiry.slice(2), 10);
    var now = new Date();
    if (month < 1 || month > 12 || year < now.getFullYear() ||
        (year === now.getFullYear() && month < now.getMonth() + 1)) {
      return { type: 'validation_error', code: 'invalid_expiry_year',
               message: "Your card's expiration date is in the past." };
    }
    if (cvc.length < 3) {
      return { type: 'validation_error', code: 'incomplete_cvc',
               message: "Your card's security code is incomplete." };
    }
    return null;
  };

  PaymentElement.prototype.showError = function (error) {
    var code = error.code || '';
    var input = code.indexOf('expiry') !== -1 ? this.inputs.expiry
      : code.indexOf('cvc') !== -1 ? this.inputs.cvc : this.inputs.number;
    this.clearError();
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', this.errorEl.id);
    this.errorEl.textContent = error.message;
    this.errorEl.hidden = false;
  };

  PaymentElement.prototype.clearError = function () {
    var inputs = this.inputs;
    Object.keys(inputs).forEach(function (key) {
      inputs[key].removeAttribute('aria-invalid');
      inputs[key].removeAttribute('aria-describedby');
    });
    this.errorEl.hidden = true;
  };

  function Elements(options) {
    this.clientSecret = options.clientSecret;
    this.element = null;
  }

  Elements.prototype.create = function (type) {
    if (type !== 'payment') {
      throw new Error('Test mode supports only the payment element.');
    }
    this.element = new PaymentElement();
    return this.element;
  };

  function returnTo(url, intent, clientSecret) {
    var target = new URL(url, window.location.href);
    target.searchParams.set('payment_intent', intent.id);
    target.searchParams.set('payment_intent_client_secret', clientSecret);
    target.searchParams.set('redirect_status', intent.status === 'succeeded' ? 'succeeded' : 'pending');
    window.location.assign(target.toString());
  }

  // Both confirmations: check the card fields, post the card number to the test-mode route,
  // and hand a success to `done`; errors come back in Stripe.js's own shape.
  function confirmCard(url, options, done) {
    var elements = options.elements;
    var element = elements.element;
    var invalid = element.validationError();
    if (invalid) {
      element.showError(invalid);
      return Promise.resolve({ error: invalid });
    }
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrfToken() },
      body: JSON.stringify({ client_secret: elements.clientSecret,
                             card_number: digits(element.inputs.number.value) })
    }).then(function (response) { return response.json(); }).then(function (body) {
      if (body.error) {
        if (body.error.type === 'validation_error') {
          element.showError(body.error);
        }
        return { error: body.error };
      }
      return done(body);
    }, function () {
      return { error: { type: 'api_connection_error',
                        message: 'Could not reach the payment service.' } };
    });
  }

  function Stripe(publishableKey) {
    if (!publishableKey || publishableKey.indexOf('pk_') !== 0) {
      throw new Error('Stripe(): a publishable key is required.');
    }
    return {
      elements: function (options) { return new Elements(options || {}); },

      confirmPayment: function (options) {
        return confirmCard(confirmUrl, options, function (body) {
          if (options.redirect === 'if_required') {
            return { paymentIntent: body.paymentIntent };
          }
          returnTo(options.confirmParams.return_url, body.paymentIntent, options.elements.clientSecret);
          return new Promise(function () {}); // the page is navigating away
        });
      },

      confirmSetup: function (options) {
        return confirmCard(confirmSetupUrl, options, function (body) {
          var target = new URL(options.confirmParams.return_url, window.location.href);
          target.searchParams.set('setup_intent', body.setupIntent.id);
          target.searchParams.set('setup_intent_client_secret', options.elements.clientSecret);
          target.searchParams.set('redirect_status',
                                  body.setupIntent.status === 'succeeded' ? 'succeeded' : 'pending');
          window.location.assign(target.toString());
          return new Promise(function () {}); // the page is navigating away
        });
      },

      retrievePaymentIntent: function (clientSecret) {
        var url = retrieveUrl + '?client_secret=' + encodeURIComponent(clientSecret);
        return fetch(url, { credentials: 'same-origin' }).then(function (response) {
          return response.json();
        });
      }
    };
  }

  window.Stripe = Stripe;
})();
