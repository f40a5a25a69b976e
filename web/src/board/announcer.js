// Announcer speaks calls one after another: a chime, then the announcement
// text through speechSynthesis (zh-CN). Calls wait in a queue, so a new call
// never cuts off the one being spoken; speechSynthesis.cancel() is never used.
//
// Browsers let a page make sound only after a user gesture. enable() must run
// inside one (a tap on the sound button); the choice is kept in localStorage
// and, on the next visit, the first tap anywhere unlocks audio again.

const SOUND_KEY = 'callme.board.sound';
const GAP_MS = 350; // pause between two announcements
const CHIME_MS = 850;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function storageGet(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null; // storage disabled (private mode, kiosk policies)
  }
}

function storageSet(key, value) {
  try {
    window.localStorage.setItem(key, value);
  } catch {
    // not remembered; the board still works
  }
}

export class Announcer {
  constructor({ onChange } = {}) {
    this.queue = [];
    this.running = false;
    this.enabled = storageGet(SOUND_KEY) === '1';
    this.audio = null;
    this.current = null; // the utterance being spoken: kept so it is not garbage-collected before onend
    this.onChange = onChange || (() => {});
  }

  // unlocked reports whether audio may play now (enabled and, where the
  // browser has WebAudio, its context running).
  get unlocked() {
    if (!this.enabled) return false;
    return !this.audio || this.audio.state === 'running';
  }

  // enable turns sound on and remembers it. Call it from a user gesture.
  enable() {
    this.enabled = true;
    storageSet(SOUND_KEY, '1');
    this.unlock();
    this.say('声音已开启');
    this.onChange();
  }

  disable() {
    this.enabled = false;
    storageSet(SOUND_KEY, '0');
    this.queue.length = 0;
    this.onChange();
  }

  // unlock creates or resumes the audio context; inside a user gesture this
  // is what the autoplay policy waits for.
  unlock() {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (AC && !this.audio) {
      try {
        this.audio = new AC();
        this.audio.onstatechange = () => this.onChange();
      } catch {
        this.audio = null;
      }
    }
    if (this.audio && this.audio.state !== 'running') {
      this.audio.resume().then(() => this.onChange(), () => {});
    }
    const synth = window.speechSynthesis;
    if (synth && synth.paused) synth.resume();
  }

  // say queues one announcement; nothing happens while sound is off.
  say(text) {
    if (!this.enabled || !text) return;
    this.queue.push(text);
    if (!this.running) this.run();
  }

  async run() {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const text = this.queue.shift();
        await this.chime();
        await this.speak(text);
        await sleep(GAP_MS);
      }
    } finally {
      this.running = false;
    }
  }

  // chime plays a two-tone "ding-dong" and resolves when it has faded.
  chime() {
    const ctx = this.audio;
    if (!ctx || ctx.state !== 'running') return Promise.resolve();
    try {
      const t0 = ctx.currentTime + 0.03;
      const tones = [
        [880, 0],
        [659.25, 0.3],
      ];
      for (const [freq, at] of tones) {
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.type = 'sine';
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, t0 + at);
        gain.gain.exponentialRampToValueAtTime(0.35, t0 + at + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t0 + at + 0.5);
        osc.connect(gain);
        gain.connect(ctx.destination);
        osc.start(t0 + at);
        osc.stop(t0 + at + 0.55);
      }
    } catch {
      return Promise.resolve();
    }
    return sleep(CHIME_MS);
  }

  // speak says text and resolves when the utterance has ended (or failed,
  // or, should the engine never report its end, after a generous timeout;
  // the browser then queues the next utterance behind it anyway).
  speak(text) {
    const synth = window.speechSynthesis;
    const Utterance = window.SpeechSynthesisUtterance;
    if (!synth || !Utterance) return Promise.resolve();
    return new Promise((resolve) => {
      const u = new Utterance(text);
      u.lang = 'zh-CN';
      u.rate = 0.9;
      const voice = pickVoice(synth);
      if (voice) u.voice = voice;
      let timer = 0;
      const done = () => {
        clearTimeout(timer);
        if (this.current === u) this.current = null;
        resolve();
      };
      u.onend = done;
      u.onerror = done;
      timer = setTimeout(done, 5000 + text.length * 500);
      this.current = u;
      if (synth.paused) synth.resume();
      synth.speak(u);
    });
  }
}

// pickVoice prefers a Mandarin (zh-CN) voice, then any Chinese one; null lets
// the engine choose by the utterance's lang.
function pickVoice(synth) {
  let voices = [];
  try {
    voices = synth.getVoices() || [];
  } catch {
    return null;
  }
  const norm = (v) => String(v.lang || '').replace('_', '-').toLowerCase();
  return (
    voices.find((v) => norm(v) === 'zh-cn' && v.localService) ||
    voices.find((v) => norm(v) === 'zh-cn') ||
    voices.find((v) => norm(v).startsWith('zh')) ||
    null
  );
}
