// QR codes on screen and back: qrcode-generator draws them (an <img> of a data: GIF, whose alt
// text is its accessible name), jsQR reads them from a photo; a camera scans them where the
// browser has BarcodeDetector (phones), frame by frame.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import qrcode from 'qrcode-generator';
import jsQR from 'jsqr';

export function QrImage({ text, label, level = 'M' }) {
  const qr = qrcode(0, level);
  qr.addData(text, 'Byte');
  qr.make();
  const cell = Math.max(2, Math.min(6, Math.floor(320 / (qr.getModuleCount() + 8))));
  return html`<img class="qr" src=${qr.createDataURL(cell, cell * 4)} alt=${label} data-text=${text} />`;
}

async function pixels(source) {
  const bitmap = await createImageBitmap(source);
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  return ctx.getImageData(0, 0, canvas.width, canvas.height);
}

// The text of the QR code in an image file, or null.
export async function readQrFile(file) {
  if (typeof BarcodeDetector !== 'undefined') {
    try {
      const found = await new BarcodeDetector({ formats: ['qr_code'] }).detect(await createImageBitmap(file));
      if (found.length) return found[0].rawValue;
    } catch (err) { /* fall back to jsQR */ }
  }
  const image = await pixels(file);
  const found = jsQR(image.data, image.width, image.height, { inversionAttempts: 'attemptBoth' });
  return found ? found.data : null;
}

export const hasCamera = () => typeof BarcodeDetector !== 'undefined'
  && Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);

// The camera, until a QR code is seen (then onText) or the person stops it.
export function CameraScan({ onText, onStop }) {
  const video = useRef(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let stream = null;
    let stopped = false;
    let timer = null;
    const detector = new BarcodeDetector({ formats: ['qr_code'] });
    (async () => {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
        if (stopped) return;
        video.current.srcObject = stream;
        await video.current.play();
        const look = async () => {
          if (stopped) return;
          try {
            const found = await detector.detect(video.current);
            if (found.length) { onText(found[0].rawValue); return; }
          } catch (err) { /* the next frame */ }
          timer = setTimeout(look, 250);
        };
        look();
      } catch (err) { setError('The camera could not be opened. Scan from a photo instead.'); }
    })();
    return () => { stopped = true; clearTimeout(timer); if (stream) stream.getTracks().forEach((t) => t.stop()); };
  }, []);
  return html`<div class="camera">
    ${error ? html`<p class="alert error" role="alert">${error}</p>` : html`<video ref=${video} muted playsinline aria-label="Camera"></video>`}
    <div class="actions"><button type="button" class="secondary" onClick=${onStop}>Stop the camera</button></div>
  </div>`;
}

let scanCount = 0;

// "Scan from a photo" (a file input; on a phone it offers the camera app too), and the live
// camera where the browser can read QR codes itself. onText gets the text, or null if no code
// was found in the photo.
export function Scanner({ onText }) {
  const id = useRef(`scan${++scanCount}`).current;
  const [camera, setCamera] = useState(false);
  const onFile = async (event) => {
    const file = event.currentTarget.files && event.currentTarget.files[0];
    event.currentTarget.value = '';
    if (!file) return;
    let text = null;
    try { text = await readQrFile(file); } catch (err) { text = null; }
    onText(text);
  };
  return html`<div class="scanner">
    ${hasCamera() && (camera
      ? html`<${CameraScan} onText=${(t) => { setCamera(false); onText(t); }} onStop=${() => setCamera(false)} />`
      : html`<div class="actions"><button type="button" class="secondary" onClick=${() => setCamera(true)}>Scan with the camera</button></div>`)}
    <div class="field">
      <label for=${id}>Scan from a photo</label>
      <input id=${id} type="file" accept="image/*" capture="environment" onChange=${onFile} />
    </div>
  </div>`;
}
