// progress: the training status line fits the terminal it is drawn on (it never wraps, so the
// redraw stays on one line), and plain lines go to logs when the stream is not a terminal.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fitLine, Progress, type ProgressFields } from '../model/cli/progress.ts';

/** A stand-in for process.stderr: a terminal of `columns` (or none) that records what is written. */
function fakeStream(columns: number | undefined, isTTY = true): NodeJS.WriteStream & { text: string; } {
  const s = { isTTY, columns, text: '', write(chunk: string) {
    s.text += chunk;
    return true;
  } };
  return s as unknown as NodeJS.WriteStream & { text: string; };
}

const step = (n: number, extra = ''): ProgressFields => ({ step: n, total: 1500, loss: 0.1331234, lr: 8.51e-6, imgsPerSec: 56.3, etaSec: 85, extra });
/** Every redrawn line (the text after each carriage return), trailing spaces included. */
const redraws = (text: string) => text.split('\r').filter(Boolean).map((l) => l.replace(/\n$/, ''));

const t = suite('progress');

t('the redrawn line never wraps: at most columns − 1 characters, at every width', () => {
  for (const columns of [200, 120, 80, 60, 40, 20]) {
    const s = fakeStream(columns);
    const p = new Progress(s);
    p.update(step(1));
    p.update(step(1350, 'std 0.211 rank 5.8'));
    p.update(step(1351));
    p.done();
    for (const line of redraws(s.text)) assert.ok(line.length <= columns - 1, `${columns} columns: ${JSON.stringify(line)} is ${line.length} long`);
    assert.match(s.text, /step 1351\/1500/, `${columns} columns`);
  }
});

t('at 80 columns the bar shrinks and the fields stay; wide terminals get everything', () => {
  const s80 = fakeStream(80);
  new Progress(s80).update(step(750));
  assert.match(s80.text, /^\r\[#+-+\] step 750\/1500  loss 0\.13312  lr 8\.51e-6  56\.3 img\/s  ETA 1m25s$/);
  const wide = fakeStream(200);
  new Progress(wide).update(step(750, 'std 0.211 rank 5.8'));
  assert.match(wide.text, /^\r\[#{12}-{12}\] step 750\/1500 .* ETA 1m25s  std 0\.211 rank 5\.8$/);
});

t('without a width it assumes 80 columns; narrow terminals drop the bar, then lr and img/s', () => {
  const s = fakeStream(undefined);
  new Progress(s).update(step(10));
  assert.ok(s.text.length - 1 <= 79 && s.text.includes('step 10/1500'), s.text);
  assert.is(fitLine(['step 10/1500', 'loss 0.13312', 'lr 8.51e-6', '56.3 img/s', 'ETA 1m25s', ''], 0, 39), 'step 10/1500  loss 0.13312  ETA 1m25s');
  assert.is(fitLine(['step 10/1500', 'loss 0.13312', 'lr 8.51e-6', '56.3 img/s', 'ETA 1m25s', ''], 0, 10), 'step 10/15');
});

t('not a terminal: plain lines every `every` steps, no bar', () => {
  const s = fakeStream(undefined, false);
  const p = new Progress(s, 10);
  for (let i = 1; i <= 20; i++) p.update(step(i));
  assert.equal(s.text.trim().split('\n').map((l) => l.split('  ')[0]), ['step 1/1500', 'step 10/1500', 'step 20/1500']);
  assert.not.match(s.text, /\[|\r/);
});

t.run();
