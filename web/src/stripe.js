// Card entry through Stripe.js: card numbers go from the browser to Stripe, never to our API.
// The script's URL comes from config.json (js.stripe.com in production, the local Stripe
// stand-in's copy in development), so the same code runs in both.
import { settings } from './api.js';

let loading = null;

export function loadStripe() {
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = settings().stripeJsUrl;
      script.onload = () => resolve(window.Stripe(settings().stripePublishableKey));
      script.onerror = () => { loading = null; reject(new Error('Stripe.js did not load')); };
      document.head.appendChild(script);
    });
  }
  return loading;
}
