// voiceagent browser client: one conversation over one WebSocket (protocol version 1).
//
//   import { VoiceAgentClient } from "/voiceagent/voiceagent.js";
//   const client = new VoiceAgentClient("wss://example.com/ws");
//   client.addEventListener("transcript", (e) => console.log(e.detail));
//   await client.start();            // call from a click: browsers start audio on a gesture
//   ...
//   client.hangUp();
//
// Events (CustomEvent, message in `detail`): welcome, ready, transcript, state,
// interrupted, tool, turn, played, ended, error, closed.
//
// Options: echoCancellation, noiseSuppression, autoGainControl (getUserMedia, default
// true), microphone (default true; false for a text-only chat), capture (keep a copy of
// every sample played, for tests: client.captured()).

const PROTOCOL = 1;

function wsUrl(path) {
  if (/^wss?:/.test(path)) return path;
  const url = new URL(path, location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

export class VoiceAgentClient extends EventTarget {
  constructor(url, options = {}) {
    super();
    this.url = wsUrl(url);
    this.options = {
      echoCancellation: true,
      noiseSuppression: true,
      autoGainControl: true,
      microphone: true,
      capture: false,
      ...options,
    };
    this.ws = null;
    this.welcome = null;
    this.playback = null; // AudioContext at the output rate
    this.player = null;
    this.captureContext = null; // AudioContext at the device rate, for the microphone
    this.micNode = null;
    this.stream = null;
    this.played = 0; // samples played, as last reported by the player
    this.epoch = 0;
    this.clears = []; // {epoch, samples}: where playback stood when each clear took effect
    this.received = 0; // agent audio samples received
    this.sent = 0; // microphone samples sent
    this._captured = [];
    this._closed = false;
  }

  // Open the conversation: audio contexts, microphone, socket. Call it from a user gesture.
  async start() {
    const rate = this.options.outputRate || 24000;
    // Created before any await, inside the gesture, so that the browser lets them play.
    this.playback = new AudioContext({ sampleRate: rate, latencyHint: "interactive" });
    if (this.options.microphone) this.captureContext = new AudioContext({ latencyHint: "interactive" });
    const base = import.meta.url;
    const ready = [this.playback.audioWorklet.addModule(new URL("./playback-worklet.js", base))];
    if (this.captureContext) {
      ready.push(this.captureContext.audioWorklet.addModule(new URL("./capture-worklet.js", base)));
    }
    if (this.options.capture) {
      ready.push(this.playback.audioWorklet.addModule(new URL("./capture-worklet.js", base)));
    }
    await Promise.all(ready);
    this.welcome = await this._connect();
    const output = this.welcome.output.sample_rate;
    if (output !== this.playback.sampleRate) {
      await this.playback.close();
      this.playback = new AudioContext({ sampleRate: output, latencyHint: "interactive" });
      await this.playback.audioWorklet.addModule(new URL("./playback-worklet.js", base));
      if (this.options.capture) {
        await this.playback.audioWorklet.addModule(new URL("./capture-worklet.js", base));
      }
    }
    this._startPlayer();
    if (this.captureContext) await this._startMicrophone();
    await Promise.all([this.playback.resume(), this.captureContext?.resume()]);
    this._flushEarly();
    return this.welcome;
  }

  _connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      ws.binaryType = "arraybuffer";
      this.ws = ws;
      this._early = [];
      let welcomed = false;
      ws.onmessage = (event) => {
        if (typeof event.data === "string") {
          const message = JSON.parse(event.data);
          if (!welcomed && message.type === "welcome") {
            welcomed = true;
            if (message.protocol !== PROTOCOL) {
              reject(new Error(`server speaks protocol ${message.protocol}, not ${PROTOCOL}`));
              return;
            }
            this._emit("welcome", message);
            resolve(message);
            return;
          }
          if (!this.player) this._early.push(message);
          else this._onMessage(message);
        } else if (!this.player) {
          this._early.push(event.data);
        } else {
          this._onAudio(event.data);
        }
      };
      ws.onclose = (event) => {
        if (!welcomed) reject(new Error(`closed before welcome: ${event.code} ${event.reason}`));
        this._shutdown();
        this._emit("closed", { code: event.code, reason: event.reason });
      };
      ws.onerror = () => {
        if (!welcomed) reject(new Error("WebSocket error"));
      };
    });
  }

  _flushEarly() {
    const early = this._early || [];
    this._early = [];
    for (const item of early) {
      if (item instanceof ArrayBuffer) this._onAudio(item);
      else this._onMessage(item);
    }
  }

  _startPlayer() {
    this.player = new AudioWorkletNode(this.playback, "voiceagent-playback", {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      processorOptions: {
        prebufferMs: this.welcome.prebuffer_ms,
        reportMs: this.welcome.report_ms,
      },
    });
    this.player.port.onmessage = (event) => this._onPlayed(event.data);
    this.player.connect(this.playback.destination);
    if (this.options.capture) {
      // A tap on what the player outputs, at the same rate: what the listener hears.
      const tap = new AudioWorkletNode(this.playback, "voiceagent-capture", {
        processorOptions: { targetRate: this.playback.sampleRate, frameMs: 20 },
      });
      tap.port.onmessage = (event) => this._captured.push(new Int16Array(event.data));
      const mute = this.playback.createGain();
      mute.gain.value = 0;
      this.player.connect(tap);
      tap.connect(mute).connect(this.playback.destination);
    }
  }

  async _startMicrophone() {
    const { echoCancellation, noiseSuppression, autoGainControl } = this.options;
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation, noiseSuppression, autoGainControl, channelCount: 1 },
    });
    const source = this.captureContext.createMediaStreamSource(this.stream);
    this.micNode = new AudioWorkletNode(this.captureContext, "voiceagent-capture", {
      processorOptions: { targetRate: this.welcome.input.sample_rate, frameMs: 20 },
    });
    this.micNode.port.onmessage = (event) => {
      if (this.ws && this.ws.readyState === WebSocket.OPEN) {
        this.ws.send(event.data);
        this.sent += event.data.byteLength / 2;
      }
    };
    const mute = this.captureContext.createGain();
    mute.gain.value = 0;
    source.connect(this.micNode).connect(mute).connect(this.captureContext.destination);
  }

  _onAudio(data) {
    this.received += data.byteLength / 2;
    this.player.port.postMessage({ type: "audio", data }, [data]);
  }

  _onPlayed(report) {
    if (report.reason === "clear") this.clears.push({ epoch: report.epoch, samples: report.samples });
    this.epoch = report.epoch;
    this.played = report.samples;
    this._send({
      type: "played",
      samples: report.samples,
      epoch: report.epoch,
      playing: report.playing,
    });
    this._emit("played", report);
  }

  _onMessage(message) {
    switch (message.type) {
      case "clear":
      case "pause":
      case "resume":
        this.player.port.postMessage(message);
        break;
      default:
        break;
    }
    this._emit(message.type, message);
  }

  _send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  // A typed user message; the agent answers it.
  sendText(text) {
    this._send({ type: "text", text });
  }

  // Stop the agent now (its answer is cut where the listener is).
  interrupt() {
    this._send({ type: "interrupt" });
  }

  // The user is done: the conversation ends once the agent has answered.
  end() {
    this._stopMicrophone();
    this._send({ type: "end" });
  }

  // Hang up now.
  hangUp() {
    if (this.ws) this.ws.close(1000, "hang up");
    this._shutdown();
  }

  // Every sample the player output so far (with capture: true), as one Int16Array.
  captured() {
    const total = this._captured.reduce((n, c) => n + c.length, 0);
    const all = new Int16Array(total);
    let at = 0;
    for (const chunk of this._captured) {
      all.set(chunk, at);
      at += chunk.length;
    }
    return all;
  }

  _stopMicrophone() {
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
    if (this.micNode) this.micNode.port.postMessage({ type: "stop" });
  }

  _shutdown() {
    if (this._closed) return;
    this._closed = true;
    this._stopMicrophone();
    // Let the last audio play out; the page may close the contexts later.
    this.captureContext?.close();
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
