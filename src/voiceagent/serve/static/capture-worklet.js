// voiceagent: microphone capture in an AudioWorklet.
//
// Takes the first channel of its input at the context's rate, resamples it to the wire
// rate (a windowed-sinc low-pass interpolator, so nothing above the new Nyquist folds
// back into speech), converts it to pcm16 little-endian and posts one ArrayBuffer per
// frame (frameMs of audio) to the main thread, which sends it as a binary WebSocket frame.
//
// processorOptions: { targetRate: 24000, frameMs: 20 }

const ZEROS = 8; // zero crossings of the sinc on each side
const STEPS = 512; // table entries per zero crossing

function kernelTable() {
  const table = new Float32Array(ZEROS * STEPS + 2);
  for (let i = 0; i < table.length; i++) {
    const u = i / STEPS; // distance in zero crossings
    const sinc = u === 0 ? 1 : Math.sin(Math.PI * u) / (Math.PI * u);
    const w = u >= ZEROS ? 0 : 0.42 + 0.5 * Math.cos((Math.PI * u) / ZEROS) + 0.08 * Math.cos((2 * Math.PI * u) / ZEROS);
    table[i] = sinc * w; // Blackman window over [-ZEROS, ZEROS]
  }
  return table;
}

class Resampler {
  constructor(inRate, outRate) {
    this.ratio = inRate / outRate; // input samples per output sample
    // Cut a little below the output's Nyquist frequency when downsampling.
    this.fc = this.ratio > 1 ? 0.95 / this.ratio : 1;
    this.half = ZEROS / this.fc; // half width of the filter, in input samples
    this.table = kernelTable();
    this.buffer = new Float32Array(4096);
    this.length = 0; // valid samples in buffer
    this.pos = 0; // next output's position in the buffer (input samples)
    // Start as if preceded by silence, so the first output is centred on the first input.
    this.length = Math.ceil(this.half);
    this.pos = this.length;
  }

  push(input, out) {
    // Append the input, then produce every output whose filter window is complete.
    if (this.length + input.length > this.buffer.length) {
      const bigger = new Float32Array((this.length + input.length) * 2);
      bigger.set(this.buffer.subarray(0, this.length));
      this.buffer = bigger;
    }
    this.buffer.set(input, this.length);
    this.length += input.length;
    const { buffer, table, fc, half, ratio } = this;
    if (ratio === 1) {
      // Same rate: copy through (keeping the same latency as the filtered path).
      while (this.pos < this.length - half) {
        out.push(buffer[Math.floor(this.pos)]);
        this.pos += 1;
      }
    } else {
      while (this.pos + half < this.length) {
        const t = this.pos;
        const first = Math.ceil(t - half);
        const last = Math.floor(t + half);
        let sum = 0;
        for (let k = first; k <= last; k++) {
          const u = Math.abs(t - k) * fc * STEPS;
          const i = u | 0;
          const f = u - i;
          sum += buffer[k] * (table[i] + (table[i + 1] - table[i]) * f);
        }
        out.push(sum * fc);
        this.pos += ratio;
      }
    }
    // Drop what no future output needs.
    const keep = Math.floor(this.pos - half) - 1;
    if (keep > 2048) {
      buffer.copyWithin(0, keep, this.length);
      this.length -= keep;
      this.pos -= keep;
    }
  }
}

class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = options.processorOptions || {};
    this.targetRate = opts.targetRate || 24000;
    this.frameSamples = Math.round((this.targetRate * (opts.frameMs || 20)) / 1000);
    this.resampler = new Resampler(sampleRate, this.targetRate);
    this.pending = [];
    this.running = true;
    this.port.onmessage = (event) => {
      if (event.data && event.data.type === "stop") this.running = false;
    };
  }

  process(inputs, outputs) {
    const input = inputs[0];
    if (input && input.length > 0) {
      this.resampler.push(input[0], this.pending);
      while (this.pending.length >= this.frameSamples) {
        const frame = this.pending.splice(0, this.frameSamples);
        const buffer = new ArrayBuffer(frame.length * 2);
        const view = new DataView(buffer);
        for (let i = 0; i < frame.length; i++) {
          const s = Math.max(-1, Math.min(1, frame[i]));
          view.setInt16(i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
        }
        this.port.postMessage(buffer, [buffer]);
      }
    }
    // Outputs stay silent: the node is connected to the destination only to be pulled.
    return this.running;
  }
}

registerProcessor("voiceagent-capture", CaptureProcessor);
