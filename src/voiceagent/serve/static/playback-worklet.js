// voiceagent: playback of the agent's voice in an AudioWorklet, with a jitter buffer.
//
// The AudioContext runs at the wire rate (the browser resamples to the device), so one
// output sample is one sample of the agent's audio and the played position is exact.
//
// Messages in:  {type: "audio", data: ArrayBuffer (pcm16 LE)}, {type: "clear", epoch},
//               {type: "pause"}, {type: "resume"}
// Messages out: {type: "played", samples, epoch, queued, playing, reason}, where samples
//               counts every sample played since the start; sent every reportMs while
//               playing and at once after clear, pause and when the queue runs dry.
//
// processorOptions: { prebufferMs: 60, reportMs: 20 }

class PlaybackProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = options.processorOptions || {};
    this.prebuffer = Math.round((sampleRate * (opts.prebufferMs ?? 60)) / 1000);
    this.reportEvery = Math.max(1, Math.round((sampleRate * (opts.reportMs ?? 20)) / 1000));
    this.chunks = []; // Int16Array chunks waiting to play
    this.offset = 0; // read position in chunks[0]
    this.queued = 0; // samples waiting
    this.played = 0; // samples played since the start
    this.reported = 0;
    this.sinceReport = 0;
    this.epoch = 0;
    this.playing = false; // false: buffering (the jitter buffer fills)
    this.paused = false;
    this.idleFrames = 0; // frames since the last audio arrived, while buffering
    this.port.onmessage = (event) => this.onMessage(event.data);
  }

  onMessage(message) {
    switch (message.type) {
      case "audio": {
        const samples = new Int16Array(message.data);
        if (samples.length > 0) {
          this.chunks.push(samples);
          this.queued += samples.length;
          this.idleFrames = 0;
        }
        break;
      }
      case "clear":
        this.chunks = [];
        this.offset = 0;
        this.queued = 0;
        this.playing = false;
        this.epoch = message.epoch;
        this.report("clear");
        break;
      case "pause":
        this.paused = true;
        this.report("pause");
        break;
      case "resume":
        this.paused = false;
        break;
    }
  }

  report(reason) {
    this.reported = this.played;
    this.sinceReport = 0;
    this.port.postMessage({
      type: "played",
      samples: this.played,
      epoch: this.epoch,
      queued: this.queued,
      playing: this.playing && !this.paused,
      reason,
    });
  }

  process(inputs, outputs) {
    const out = outputs[0][0];
    const n = out.length;
    let written = 0;
    if (!this.paused) {
      if (!this.playing && this.queued > 0) {
        this.idleFrames += n;
        // Start once the jitter buffer holds enough, or once no more audio has come for
        // as long (the end of an answer shorter than the buffer).
        if (this.queued >= this.prebuffer || this.idleFrames >= this.prebuffer) {
          this.playing = true;
        }
      }
      if (this.playing) {
        while (written < n && this.chunks.length > 0) {
          const chunk = this.chunks[0];
          const take = Math.min(n - written, chunk.length - this.offset);
          for (let i = 0; i < take; i++) out[written + i] = chunk[this.offset + i] / 32768;
          written += take;
          this.offset += take;
          if (this.offset >= chunk.length) {
            this.chunks.shift();
            this.offset = 0;
          }
        }
        this.queued -= written;
        this.played += written;
        this.sinceReport += written;
        if (this.queued === 0) {
          this.playing = false;
          this.idleFrames = 0;
          this.report("dry");
        } else if (this.sinceReport >= this.reportEvery) {
          this.report("progress");
        }
      }
    }
    for (let i = written; i < n; i++) out[i] = 0;
    return true;
  }
}

registerProcessor("voiceagent-playback", PlaybackProcessor);
