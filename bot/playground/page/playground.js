/*
 * vpnbot playground: the page that plays Slack for the unchanged bot.
 *
 * It shows what ONE person sees (the person chosen in #person): the channel, its threads, their ephemeral
 * messages, their open modal and their App Home, all read from GET /api/state and refreshed on every
 * Server-Sent Event from /api/events. Every interaction goes back to the playground's server as JSON
 * (/api/command, /api/action, /api/submit, /api/close, /api/home), which turns it into the payload Slack would
 * send the bot.
 *
 * Block Kit is rendered from the JSON the bot sent, one renderer per kind in bot/playground/kinds.py; any
 * other kind shows a visible ".pg-unknown" placeholder. Everything shown is built with createElement and
 * textContent (never innerHTML with data), and a link gets an href only for http:, https: and mailto: URLs, so
 * a hostile connection name from the cloud is shown as the text it is.
 *
 * ?render-test=1 fetches nothing: window.playground.renderBlocks() renders on demand, loadState() shows a
 * given state, and what the page would POST is recorded (posted()) instead of sent.
 */
(() => {
  "use strict";

  const params = new URLSearchParams(location.search);
  const RENDER_TEST = params.get("render-test") === "1";
  const USER_KEY = "vpnbot-playground.user";
  const PEER_KEY = "vpnbot-playground.peer";
  const PEER_REFRESH_MS = 4000;
  const HINT = "vpnbot answers /vpn commands; try /vpn help";
  const COMMANDS = [
    ["/vpn help", "what vpnbot can do"],
    ["/vpn list", "[vpcId|vpnGwId]: connections and an Edit button"],
    ["/vpn show ", "<vpnConnId>: a connection's settings"],
    ["/vpn edit ", "<vpnConnId>: open the edit form"],
    ["/vpn status ", "<request id>: where a change stands"],
  ];

  // --- the page's state (one object, so every mutable thing is in one place) -----------------------------------

  const app = {
    user: null, // the Slack user id the page shows the workspace as
    state: null, // the last /api/state answer (or loadState() argument)
    fetching: false,
    queued: false,
    view: "channel", // "channel" | "home"
    threadTs: null,
    anchor: null, // a ts to scroll to once it is in the state (from #msg-<ts>)
    dismissed: new Set(), // user + ephemeral message_ts hidden locally
    system: [], // local lines: {ts, text, kind}
    modal: null, // {id, hash, inputs, errorsKey}
    closedView: null, // the id of the view the person just closed: a state fetched before that must not reopen it
    home: null, // {id, hash}
    peerTimer: null,
    posts: [], // render-test mode: what would have been POSTed
    answers: {}, // render-test mode: path -> answer
    seq: 0,
    lastSystemMicros: 0,
    refusalsSeen: null, // how many of the state's refusals were shown (null: none shown yet, all old ones now)
    directory: { users: new Map(), groups: new Map(), channels: new Map() },
  };

  // --- DOM helpers ------------------------------------------------------------------------------------------------

  /** An element; props are set as attributes (keys are always this file's own words), children as nodes/text. */
  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value === null || value === undefined || value === false) continue;
        if (key === "class") node.className = value;
        else if (key === "text") node.textContent = String(value);
        else node.setAttribute(key, value === true ? "" : String(value));
      }
    }
    return append(node, children);
  }

  function append(node, children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) append(node, child);
      else if (child instanceof Node) node.appendChild(child);
      else node.appendChild(document.createTextNode(String(child)));
    }
    return node;
  }

  const $ = (id) => document.getElementById(id);
  const nextId = (prefix) => `${prefix}-${++app.seq}`;

  /** Slack's three escapes, decoded once, after the <...> tokens are split out. */
  function decode(text) {
    return String(text).replace(/&(amp|lt|gt);/g, (_, name) => ({ amp: "&", lt: "<", gt: ">" })[name]);
  }

  /** An href for an http:, https: or mailto: URL (or a path on this server); null for anything else. */
  function safeHref(raw) {
    const text = String(raw ?? "").trim();
    if (!/^(https?:\/\/|mailto:)/i.test(text) && !/^\/(?![\/\\])/.test(text)) return null;
    let url;
    try {
      url = new URL(text, location.href);
    } catch {
      return null;
    }
    return ["http:", "https:", "mailto:"].includes(url.protocol) ? url.href : null;
  }

  /** A link; a permalink into this playground (/archives/C../p..) scrolls to the message instead of leaving. */
  function link(href, ...children) {
    const a = h("a", { class: "pg-link", href }, ...children);
    const ts = archiveTs(href);
    if (ts) {
      a.addEventListener("click", (event) => {
        event.preventDefault();
        goToMessage(ts);
      });
    } else {
      a.target = "_blank";
      a.rel = "noopener noreferrer";
    }
    return a;
  }

  function archiveTs(href) {
    let url;
    try {
      url = new URL(href);
    } catch {
      return null;
    }
    const slack = /^[a-z0-9-]+\.slack\.com$/i.test(url.hostname); // the stand-in's permalinks, as Slack's look
    if (url.origin !== location.origin && !slack) return null;
    const m = /^\/archives\/([^/]+)\/p(\d+)(\d{6})$/.exec(url.pathname);
    if (!m) return null;
    const channel = app.state && app.state.channel ? app.state.channel.id : null;
    return !slack || m[1] === channel ? `${m[2]}.${m[3]}` : null;
  }

  // --- emoji (drawn with CSS and common glyphs, so they look the same without an emoji font) ---------------------

  const EMOJI = {
    white_check_mark: ["✔", "pg-emoji-green"],
    heavy_check_mark: ["✔", "pg-emoji-plain pg-emoji-fg-green"],
    large_green_circle: ["", "pg-emoji-dot pg-emoji-green"],
    red_circle: ["", "pg-emoji-dot pg-emoji-red"],
    large_orange_circle: ["", "pg-emoji-dot pg-emoji-orange"],
    large_blue_circle: ["", "pg-emoji-dot pg-emoji-blue"],
    white_circle: ["", "pg-emoji-dot pg-emoji-white"],
    grey_question: ["?", "pg-emoji-dot pg-emoji-grey"],
    question: ["?", "pg-emoji-dot pg-emoji-red"],
    no_entry: ["−", "pg-emoji-dot pg-emoji-red"],
    x: ["✖", "pg-emoji-plain pg-emoji-fg-red"],
    warning: ["⚠", "pg-emoji-plain pg-emoji-fg-amber"],
    gear: ["⚙", "pg-emoji-plain pg-emoji-fg-grey"],
    hourglass: ["◷", "pg-emoji-amber"],
    hourglass_flowing_sand: ["◷", "pg-emoji-amber"],
    alarm_clock: ["◷", "pg-emoji-red"],
    outbox_tray: ["↗", "pg-emoji-blue"],
    leftwards_arrow_with_hook: ["↩", "pg-emoji-blue"],
    rewind: ["«", "pg-emoji-blue"],
    arrow_up: ["↑", "pg-emoji-blue"],
    arrow_down: ["↓", "pg-emoji-blue"],
    lock: ["✱", "pg-emoji-amber"],
    key: ["✱", "pg-emoji-amber"],
    wrench: ["⚒", "pg-emoji-plain pg-emoji-fg-grey"],
    eyes: ["◉", "pg-emoji-plain"],
    information_source: ["i", "pg-emoji-blue"],
    star: ["★", "pg-emoji-plain pg-emoji-fg-amber"],
  };

  function emojiNode(name, fallback) {
    const known = EMOJI[name];
    if (!known) return document.createTextNode(fallback);
    const span = h("span", { class: `pg-emoji ${known[1]}`, title: `:${name}:`, role: "img", "aria-label": name });
    span.textContent = known[0];
    return span;
  }

  /** Text with the known :shortcodes: as emoji nodes. */
  function emojify(text) {
    const out = [];
    const re = /:([a-z0-9_+-]+):/g;
    let last = 0;
    let m;
    while ((m = re.exec(text))) {
      if (!EMOJI[m[1]]) {
        re.lastIndex = m.index + 1;
        continue;
      }
      if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
      out.push(emojiNode(m[1], m[0]));
      last = re.lastIndex;
    }
    if (last < text.length) out.push(document.createTextNode(text.slice(last)));
    return out;
  }

  // --- dates: <!date^ts^format^link|fallback> ----------------------------------------------------------------------

  function ordinal(n) {
    const tens = n % 100;
    if (tens >= 11 && tens <= 13) return `${n}th`;
    return `${n}${{ 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th"}`;
  }

  const isEnglish = () => (Intl.DateTimeFormat().resolvedOptions().locale || "en").toLowerCase().startsWith("en");

  function longDate(date, weekday) {
    const options = { month: "long", day: "numeric", year: "numeric" };
    if (weekday) options.weekday = "long";
    if (!isEnglish()) return new Intl.DateTimeFormat(undefined, options).format(date);
    const parts = new Intl.DateTimeFormat("en-US", options).formatToParts(date);
    const get = (type) => parts.find((p) => p.type === type)?.value ?? "";
    const base = `${get("month")} ${ordinal(date.getDate())}, ${get("year")}`;
    return weekday ? `${get("weekday")}, ${base}` : base;
  }

  function dayOffset(date) {
    const start = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
    return Math.round((start(date) - start(new Date())) / 86400000);
  }

  function pretty(date, otherwise) {
    const words = { 0: "today", [-1]: "yesterday", 1: "tomorrow" };
    const offset = dayOffset(date);
    if (!(offset in words)) return otherwise;
    if (typeof Intl.RelativeTimeFormat === "function") {
      return new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }).format(offset, "day");
    }
    return words[offset];
  }

  function ago(date) {
    const seconds = Math.round((date.getTime() - Date.now()) / 1000);
    const steps = [
      [60, "second"],
      [60, "minute"],
      [24, "hour"],
      [30, "day"],
      [12, "month"],
      [Infinity, "year"],
    ];
    let value = seconds;
    for (const [size, unit] of steps) {
      if (Math.abs(value) < size) return new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }).format(value, unit);
      value = Math.round(value / size);
    }
    return "";
  }

  const pad = (n) => String(n).padStart(2, "0");
  const spaced = (text) => text.replace(/[\u202f\u00a0]/g, " "); // ICU's narrow spaces, as Slack shows them
  const DATE_TOKENS = {
    date_num: (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`,
    date: (d) => longDate(d, false),
    date_short: (d) => new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", year: "numeric" }).format(d),
    date_long: (d) => longDate(d, true),
    date_pretty: (d) => pretty(d, DATE_TOKENS.date(d)),
    date_short_pretty: (d) => pretty(d, DATE_TOKENS.date_short(d)),
    date_long_pretty: (d) => pretty(d, DATE_TOKENS.date_long(d)),
    time: (d) => spaced(new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" }).format(d)),
    time_secs: (d) =>
      spaced(new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit", second: "2-digit" }).format(d)),
    ago: (d) => ago(d),
  };

  /** Slack's date format in the viewer's locale and time zone; null when the timestamp is not a number. */
  function formatDate(seconds, format) {
    if (!/^-?\d{1,12}$/.test(seconds)) return null;
    const date = new Date(Number(seconds) * 1000);
    if (Number.isNaN(date.getTime())) return null;
    return format.replace(/\{([a-z_]+)\}/g, (whole, name) => (DATE_TOKENS[name] ? DATE_TOKENS[name](date) : whole));
  }

  // --- mrkdwn ----------------------------------------------------------------------------------------------------

  const MARKS = { "*": "strong", _: "em", "~": "del", "`": "code" };
  const WORD = /[\p{L}\p{N}]/u;
  const SPACE = /\s/;
  const isChar = (atom) => typeof atom === "string";

  /** A line as atoms: single characters (entities decoded), {token} for <...>, {emoji} for known :names:. */
  function atomize(line) {
    const atoms = [];
    const pushText = (raw) => {
      const text = decode(raw);
      const re = /:([a-z0-9_+-]+):/g;
      let last = 0;
      let m;
      while ((m = re.exec(text))) {
        if (!EMOJI[m[1]]) {
          re.lastIndex = m.index + 1;
          continue;
        }
        atoms.push(...Array.from(text.slice(last, m.index)));
        atoms.push({ emoji: m[1], raw: m[0] });
        last = re.lastIndex;
      }
      atoms.push(...Array.from(text.slice(last)));
    };
    const re = /<([^<>\n]*)>/g;
    let last = 0;
    let m;
    while ((m = re.exec(line))) {
      pushText(line.slice(last, m.index));
      atoms.push({ token: m[1] });
      last = re.lastIndex;
    }
    pushText(line.slice(last));
    return atoms;
  }

  function canOpen(atoms, i, to) {
    const before = atoms[i - 1];
    if (isChar(before) && (WORD.test(before) || before === atoms[i])) return false;
    const after = atoms[i + 1];
    return i + 1 < to && !(isChar(after) && SPACE.test(after));
  }

  function closing(atoms, mark, from, to) {
    for (let j = from; j < to; j++) {
      if (atoms[j] !== mark) continue;
      const before = atoms[j - 1];
      const after = atoms[j + 1];
      if (isChar(before) && SPACE.test(before)) continue;
      if (isChar(after) && WORD.test(after)) continue;
      return j;
    }
    return -1;
  }

  /** Inline nodes of atoms[from, to): *bold*, _italic_, ~strike~, `code`, tokens and emoji. */
  function inline(atoms, from, to, depth, formatting) {
    const out = [];
    let text = "";
    const flush = () => {
      if (text) out.push(document.createTextNode(text));
      text = "";
    };
    let i = from;
    while (i < to) {
      const atom = atoms[i];
      if (formatting && isChar(atom) && MARKS[atom] && depth < 6 && canOpen(atoms, i, to)) {
        const j = closing(atoms, atom, i + 2, to);
        if (j > i + 1) {
          flush();
          const node = h(MARKS[atom], { class: atom === "`" ? "pg-code" : null });
          append(node, inline(atoms, i + 1, j, depth + 1, atom !== "`"));
          out.push(node);
          i = j + 1;
          continue;
        }
      }
      if (isChar(atom)) text += atom;
      else {
        flush();
        out.push(atom.emoji ? emojiNode(atom.emoji, atom.raw) : token(atom.token));
      }
      i++;
    }
    flush();
    return out;
  }

  function mrkdwnLine(line, formatting = true) {
    const atoms = atomize(line);
    return inline(atoms, 0, atoms.length, 0, formatting);
  }

  /** One <...> token: a link, a mention, a channel, a user group, a broadcast, a date. */
  function token(raw) {
    if (raw === "") return document.createTextNode("<>");
    const bar = raw.indexOf("|");
    const head = bar < 0 ? raw : raw.slice(0, bar);
    const label = bar < 0 ? null : decode(raw.slice(bar + 1));
    const dir = app.directory;
    if (head.startsWith("@")) {
      const id = head.slice(1);
      const name = label || dir.users.get(id) || id;
      const me = id === app.user ? " pg-mention-me" : "";
      return h("span", { class: `pg-mention${me}`, "data-user": id }, `@${name.replace(/^@/, "")}`);
    }
    if (head.startsWith("#")) {
      const id = head.slice(1);
      return h("span", { class: "pg-mention pg-channel-link" }, `#${label || dir.channels.get(id) || id}`);
    }
    if (head.startsWith("!")) {
      const parts = head.slice(1).split("^");
      const kind = parts[0];
      if (kind === "here" || kind === "channel" || kind === "everyone") {
        return h("span", { class: "pg-mention pg-broadcast" }, `@${kind}`);
      }
      if (kind === "subteam") {
        const handle = dir.groups.get(parts[1] || "") || (label || "").replace(/^@/, "") || parts[1] || "group";
        return h("span", { class: "pg-mention pg-group" }, `@${handle}`);
      }
      if (kind === "date") {
        const shown = formatDate(parts[1] || "", decode(parts[2] || ""));
        const text = shown === null ? (label ?? "") : shown;
        const href = parts[3] ? safeHref(decode(parts[3])) : null;
        const node = h("time", { class: "pg-date" }, text);
        if (label) node.title = label;
        return href ? link(href, node) : node;
      }
      return document.createTextNode(label ?? kind);
    }
    const url = decode(head);
    const href = safeHref(url);
    const shown = label !== null && label !== "" ? label : url;
    if (!href) return document.createTextNode(shown);
    return link(href, shown);
  }

  /** A mrkdwn text: ``` blocks, > quotes (and >>>), line breaks, inline formatting and tokens. */
  function mrkdwn(text) {
    const root = h("div", { class: "pg-mrkdwn" });
    const pieces = String(text).split("```");
    const closed = pieces.length % 2 === 1 ? pieces.length : pieces.length - 1;
    let quoteRest = false;
    for (let k = 0; k < pieces.length; k++) {
      let piece = pieces[k];
      if (k % 2 === 1 && k < closed) {
        piece = piece.replace(/^\n/, "").replace(/\n$/, "");
        const pre = h("pre", { class: "pg-pre" });
        piece.split("\n").forEach((line, n) => {
          if (n) pre.appendChild(document.createTextNode("\n"));
          append(pre, mrkdwnLine(line, false));
        });
        (quoteRest ? lastQuote(root) : root).appendChild(pre);
        continue;
      }
      if (k % 2 === 1) piece = "```" + piece; // an unclosed fence is text
      if (k > 0 && k % 2 === 0) piece = piece.replace(/^\n/, "");
      if (k + 1 < closed) piece = piece.replace(/\n$/, "");
      if (piece === "") continue;
      let group = null;
      let groupIsQuote = false;
      for (const raw of piece.split("\n")) {
        let line = raw;
        let quoted = quoteRest;
        const triple = /^(>>>|&gt;&gt;&gt;) ?/.exec(line);
        if (!quoteRest && triple) {
          quoteRest = true;
          quoted = true;
          line = line.slice(triple[0].length);
        } else if (!quoteRest) {
          const single = /^(>|&gt;) ?/.exec(line);
          if (single) {
            quoted = true;
            line = line.slice(single[0].length);
          }
        }
        if (!group || groupIsQuote !== quoted) {
          group = quoted ? h("blockquote", { class: "pg-quote" }) : h("div", { class: "pg-lines" });
          groupIsQuote = quoted;
          root.appendChild(group);
        } else {
          group.appendChild(document.createTextNode("\n"));
        }
        append(group, mrkdwnLine(line));
      }
    }
    return root;
  }

  function lastQuote(root) {
    const last = root.lastElementChild;
    if (last && last.tagName === "BLOCKQUOTE") return last;
    const quote = h("blockquote", { class: "pg-quote" });
    root.appendChild(quote);
    return quote;
  }

  // --- standard markdown (the markdown block) ---------------------------------------------------------------------

  const MD_INLINE =
    /(`+)([^`][\s\S]*?)\1|\[([^\]\n]*)\]\(([^)\s]*)\)|<((?:https?:\/\/|mailto:)[^>\s]*)>|\*\*(?=\S)([\s\S]*?\S)\*\*|__(?=\S)([\s\S]*?\S)__|~~(?=\S)([\s\S]*?\S)~~|\*(?=[^\s*])([^*]*[^\s*])?\*|(?<![\p{L}\p{N}])_(?=[^\s_])([^_]*[^\s_])?_(?![\p{L}\p{N}])|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])/gu;

  function mdInline(text) {
    const out = [];
    let last = 0;
    let m;
    const re = new RegExp(MD_INLINE.source, "gu");
    while ((m = re.exec(text))) {
      if (m.index > last) out.push(...emojify(decode(text.slice(last, m.index))));
      const whole = m[0];
      if (m[1]) out.push(h("code", { class: "pg-code" }, decode(m[2])));
      else if (m[4] !== undefined) {
        const href = safeHref(decode(m[4]));
        out.push(href ? link(href, ...mdInline(m[3])) : h("span", {}, ...mdInline(m[3])));
      } else if (m[5]) {
        const href = safeHref(decode(m[5]));
        out.push(href ? link(href, decode(m[5])) : document.createTextNode(decode(m[5])));
      } else if (m[6] !== undefined) out.push(h("strong", {}, ...mdInline(m[6])));
      else if (m[7] !== undefined) out.push(h("strong", {}, ...mdInline(m[7])));
      else if (m[8] !== undefined) out.push(h("del", {}, ...mdInline(m[8])));
      else if (whole.startsWith("*")) out.push(h("em", {}, ...mdInline(whole.slice(1, -1))));
      else if (whole.startsWith("_")) out.push(h("em", {}, ...mdInline(whole.slice(1, -1))));
      else if (m[11]) {
        const href = safeHref(decode(m[11]));
        out.push(href ? link(href, decode(m[11])) : document.createTextNode(decode(m[11])));
      } else out.push(document.createTextNode(decode(whole)));
      last = re.lastIndex;
    }
    if (last < text.length) out.push(...emojify(decode(text.slice(last))));
    return out;
  }

  function markdown(text) {
    const root = h("div", { class: "pg-markdown" });
    const lines = String(text).split("\n");
    let paragraph = [];
    const flush = () => {
      if (!paragraph.length) return;
      const p = h("p");
      paragraph.forEach((line, n) => {
        if (n) p.appendChild(h("br"));
        append(p, mdInline(line));
      });
      root.appendChild(p);
      paragraph = [];
    };
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      let m;
      if (/^\s*```/.test(line)) {
        flush();
        const body = [];
        i++;
        while (i < lines.length && !/^\s*```/.test(lines[i])) body.push(lines[i++]);
        i++;
        root.appendChild(h("pre", { class: "pg-pre" }, decode(body.join("\n"))));
        continue;
      }
      if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) {
        flush();
        root.appendChild(h("div", { class: `pg-md-h pg-md-h${m[1].length}` }, ...mdInline(m[2])));
      } else if (/^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) {
        flush();
        root.appendChild(h("hr", { class: "pg-divider" }));
      } else if (/^\s*(>|&gt;)/.test(line)) {
        flush();
        const quote = h("blockquote", { class: "pg-quote" });
        while (i < lines.length && /^\s*(>|&gt;)/.test(lines[i])) {
          if (quote.childNodes.length) quote.appendChild(h("br"));
          append(quote, mdInline(lines[i].replace(/^\s*(>|&gt;) ?/, "")));
          i++;
        }
        root.appendChild(quote);
        continue;
      } else if ((m = /^\s*([-*+]|\d{1,9}[.)])\s+/.exec(line))) {
        flush();
        const ordered = /\d/.test(m[1]);
        const list = h(ordered ? "ol" : "ul", { class: "pg-list" });
        if (ordered && parseInt(m[1], 10) !== 1) list.setAttribute("start", String(parseInt(m[1], 10)));
        const item = ordered ? /^\s*\d{1,9}[.)]\s+(.*)$/ : /^\s*[-*+]\s+(.*)$/;
        while (i < lines.length && item.test(lines[i])) {
          list.appendChild(h("li", {}, ...mdInline(item.exec(lines[i])[1])));
          i++;
        }
        root.appendChild(list);
        continue;
      } else if (line.trim() === "") {
        flush();
      } else {
        paragraph.push(line);
      }
      i++;
    }
    flush();
    return root;
  }

  // --- rich text ---------------------------------------------------------------------------------------------------

  function richText(block) {
    const root = h("div", { class: "pg-rich-text" });
    for (const part of asList(block.elements)) root.appendChild(richPart(part));
    return root;
  }

  function richPart(part) {
    const type = part && part.type;
    if (type === "rich_text_section") return h("div", { class: "pg-rt-section" }, richInline(part.elements));
    if (type === "rich_text_preformatted") return h("pre", { class: "pg-pre" }, richInline(part.elements, true));
    if (type === "rich_text_quote") return h("blockquote", { class: "pg-quote" }, richInline(part.elements));
    if (type === "rich_text_list") {
      const ordered = part.style === "ordered";
      const indent = Math.max(0, Math.min(8, Number(part.indent) || 0));
      const list = h(ordered ? "ol" : "ul", { class: `pg-list pg-indent-${indent}` });
      if (ordered && Number(part.offset) > 0) list.setAttribute("start", String(Number(part.offset) + 1));
      for (const item of asList(part.elements)) {
        list.appendChild(h("li", {}, item && item.type === "rich_text_section" ? richInline(item.elements) : richPart(item)));
      }
      return list;
    }
    return unknownElement(type);
  }

  function richInline(elements, inPre) {
    const out = [];
    for (const e of asList(elements)) {
      const type = e && e.type;
      let node;
      if (type === "text") node = document.createTextNode(String(e.text ?? ""));
      else if (type === "link") {
        const href = safeHref(e.url);
        const shown = String(e.text || e.url || "");
        node = href ? link(href, shown) : document.createTextNode(shown);
      } else if (type === "emoji") {
        node = EMOJI[e.name] ? emojiNode(e.name, `:${e.name}:`) : document.createTextNode(richEmoji(e));
      } else if (type === "user") node = token(`@${e.user_id}`);
      else if (type === "channel") node = token(`#${e.channel_id}`);
      else if (type === "usergroup") node = token(`!subteam^${e.usergroup_id}`);
      else if (type === "broadcast") node = token(`!${e.range}`);
      else if (type === "date") {
        const shown = formatDate(String(e.timestamp ?? ""), String(e.format ?? "{date_short} {time}"));
        node = h("time", { class: "pg-date" }, shown ?? String(e.fallback ?? ""));
      } else if (type === "color") node = h("span", { class: "pg-color" }, String(e.value ?? ""));
      else node = unknownElement(type);
      out.push(inPre ? node : styled(node, e.style));
    }
    return out;
  }

  function richEmoji(e) {
    const code = String(e.unicode || "");
    if (/^[0-9a-f]{2,6}(-[0-9a-f]{2,6})*$/i.test(code)) {
      try {
        return String.fromCodePoint(...code.split("-").map((c) => parseInt(c, 16)));
      } catch {
        /* shown by name below */
      }
    }
    return `:${e.name}:`;
  }

  function styled(node, style) {
    if (!style || typeof style !== "object") return node;
    let out = node;
    const wrap = (tag, cls) => {
      out = h(tag, { class: cls }, out);
    };
    if (style.code) wrap("code", "pg-code");
    if (style.bold) wrap("strong");
    if (style.italic) wrap("em");
    if (style.strike) wrap("del");
    if (style.underline) wrap("u");
    return out;
  }

  // --- text objects ------------------------------------------------------------------------------------------------

  const TEXT_TYPES = new Set(["mrkdwn", "plain_text", "raw_text"]);

  function textObject(obj) {
    if (obj === null || obj === undefined) return document.createTextNode("");
    if (typeof obj === "string") return plain(obj);
    if (obj.type === "mrkdwn") return mrkdwn(String(obj.text ?? ""));
    if (obj.type === "plain_text" || obj.type === "raw_text") return plain(String(obj.text ?? ""));
    return unknownElement(obj.type);
  }

  function plain(text) {
    return h("span", { class: "pg-plain" }, emojify(decode(text)));
  }

  /** A text object's text as the bot sent it (entities still escaped). */
  function rawText(obj) {
    if (obj === null || obj === undefined) return "";
    return typeof obj === "string" ? obj : String(obj.text ?? "");
  }

  /** A text object as a string (for <option> and attribute texts): entities decoded, no markup. */
  function plainString(obj) {
    return decode(rawText(obj));
  }

  // --- placeholders ------------------------------------------------------------------------------------------------

  function unknownBlock(type) {
    return h("div", { class: "pg-unknown" }, `unknown block: ${String(type)}`);
  }

  function unknownElement(type) {
    return h("div", { class: "pg-unknown" }, `unknown element: ${String(type)}`);
  }

  const asList = (value) => (Array.isArray(value) ? value : []);

  // --- elements ----------------------------------------------------------------------------------------------------

  /** An image; loaded only from this server or a data: URL (the page stays offline), otherwise a frame. */
  function image(url, alt, cls) {
    const source = String(url ?? "");
    const local =
      /^data:image\/(png|gif|jpeg|webp);base64,[a-z0-9+/=]+$/i.test(source) ||
      (safeHref(source) && new URL(source, location.href).origin === location.origin);
    if (local) return h("img", { class: cls, src: source, alt: String(alt ?? "") });
    const href = safeHref(source);
    const frame = h("span", { class: `${cls} pg-image-frame`, role: "img", "aria-label": String(alt ?? "") });
    frame.appendChild(h("span", { class: "pg-image-alt" }, String(alt ?? "image")));
    if (href) frame.title = href;
    return frame;
  }

  function buttonEl(element, ctx, blockId) {
    const style =
      element.style === "primary" ? " pg-button-primary" : element.style === "danger" ? " pg-button-danger" : "";
    const href = element.url ? safeHref(element.url) : null;
    const node = href
      ? h("a", { class: `pg-button${style}`, href, target: "_blank", rel: "noopener noreferrer", role: "button" })
      : h("button", { type: "button", class: `pg-button${style}` });
    node.appendChild(plain(rawText(element.text)));
    node.dataset.actionId = String(element.action_id ?? "");
    if (element.accessibility_label) node.title = String(element.accessibility_label);
    node.addEventListener("click", (event) => {
      const send = () =>
        act(ctx, { block_id: blockId, action_id: element.action_id, type: "button", value: element.value }, node);
      if (element.confirm) {
        event.preventDefault();
        openConfirm(element.confirm, () => {
          if (href) window.open(href, "_blank", "noopener");
          send();
        });
        return;
      }
      send();
    });
    return node;
  }

  function optionPayload(option) {
    const chosen = { text: option.text, value: option.value };
    if (option.description) chosen.description = option.description;
    return chosen;
  }

  function selectEl(element, ctx, blockId, inInput) {
    const select = h("select", { class: "pg-select" });
    select.dataset.actionId = String(element.action_id ?? "");
    const options = [];
    select.appendChild(h("option", { value: "" }, plainString(element.placeholder) || "Select an option"));
    const add = (parent, option) => {
      if (!option || typeof option !== "object") return;
      options.push(option);
      parent.appendChild(h("option", { value: String(options.length - 1) }, plainString(option.text)));
    };
    for (const option of asList(element.options)) add(select, option);
    for (const group of asList(element.option_groups)) {
      const optgroup = h("optgroup", { label: plainString(group && group.label) });
      for (const option of asList(group && group.options)) add(optgroup, option);
      select.appendChild(optgroup);
    }
    const initial = element.initial_option && element.initial_option.value;
    const at = options.findIndex((o) => initial !== undefined && o.value === initial);
    select.value = at >= 0 ? String(at) : "";
    let previous = select.value;
    select.pgRead = () => (select.value === "" ? null : optionPayload(options[Number(select.value)]));
    if (!inInput) {
      select.addEventListener("change", () => {
        const chosen = select.pgRead();
        if (!chosen) return;
        const send = () => {
          previous = select.value;
          act(ctx, { block_id: blockId, action_id: element.action_id, type: "static_select", selected_option: chosen }, select);
        };
        if (element.confirm) {
          openConfirm(element.confirm, send, () => {
            select.value = previous;
          });
        } else send();
      });
    }
    return select;
  }

  function overflowEl(element, ctx, blockId) {
    const wrap = h("span", { class: "pg-overflow" });
    const toggle = h("button", { type: "button", class: "pg-button pg-overflow-toggle", "aria-label": "More actions" }, "⋯");
    toggle.dataset.actionId = String(element.action_id ?? "");
    const menu = h("div", { class: "pg-overflow-menu", role: "menu", hidden: true });
    for (const option of asList(element.options)) {
      if (!option || typeof option !== "object") continue;
      const item = h("button", { type: "button", class: "pg-overflow-option", role: "menuitem" }, plain(rawText(option.text)));
      item.dataset.value = String(option.value ?? "");
      item.addEventListener("click", () => {
        menu.hidden = true;
        const href = option.url ? safeHref(option.url) : null;
        const send = () => {
          if (href) window.open(href, "_blank", "noopener");
          act(ctx, { block_id: blockId, action_id: element.action_id, type: "overflow", selected_option: optionPayload(option) }, toggle);
        };
        if (element.confirm) openConfirm(element.confirm, send);
        else send();
      });
      menu.appendChild(item);
    }
    toggle.addEventListener("click", (event) => {
      event.stopPropagation();
      const opening = menu.hidden;
      closeMenus();
      menu.hidden = !opening;
    });
    return append(wrap, [toggle, menu]);
  }

  function closeMenus() {
    for (const menu of document.querySelectorAll(".pg-overflow-menu")) menu.hidden = true;
  }

  function textInputEl(element, number) {
    const multiline = !number && element.multiline;
    const input = multiline
      ? h("textarea", { class: "pg-text-input", rows: 4 })
      : h("input", { class: "pg-text-input", type: "text", autocomplete: "off" });
    if (number) {
      input.classList.add("pg-number-input");
      input.setAttribute("inputmode", element.is_decimal_allowed ? "decimal" : "numeric");
    }
    input.dataset.actionId = String(element.action_id ?? "");
    if (element.placeholder) input.placeholder = plainString(element.placeholder);
    if (element.initial_value !== undefined && element.initial_value !== null) input.value = String(element.initial_value);
    input.pgRead = () => (input.value === "" ? null : input.value);
    return input;
  }

  function choicesEl(element, ctx, blockId, inInput, radio) {
    const kind = radio ? "radio_buttons" : "checkboxes";
    const wrap = h("div", { class: radio ? "pg-radios" : "pg-checkboxes", role: radio ? "radiogroup" : "group" });
    wrap.dataset.actionId = String(element.action_id ?? "");
    const name = nextId("pg-choice");
    const initial = radio
      ? new Set(element.initial_option ? [element.initial_option.value] : [])
      : new Set(asList(element.initial_options).map((o) => o && o.value));
    const boxes = [];
    for (const option of asList(element.options)) {
      if (!option || typeof option !== "object") continue;
      const box = h("input", { type: radio ? "radio" : "checkbox", name, value: String(option.value ?? "") });
      box.checked = initial.has(option.value);
      boxes.push([box, option]);
      const text = h("span", { class: "pg-choice-text" }, textObject(option.text));
      const description = option.description ? h("span", { class: "pg-choice-description" }, textObject(option.description)) : null;
      wrap.appendChild(h("label", { class: "pg-choice" }, box, h("span", {}, text, description)));
    }
    const chosen = () => boxes.filter(([box]) => box.checked).map(([, option]) => optionPayload(option));
    wrap.pgRead = () => (radio ? (chosen()[0] ?? null) : chosen());
    if (!inInput) {
      wrap.addEventListener("change", () => {
        const action = { block_id: blockId, action_id: element.action_id, type: kind };
        if (radio) action.selected_option = wrap.pgRead();
        else action.selected_options = wrap.pgRead();
        act(ctx, action, null);
      });
    }
    return wrap;
  }

  const ELEMENTS = {
    button: (e, ctx, blockId) => buttonEl(e, ctx, blockId),
    static_select: (e, ctx, blockId, inInput) => selectEl(e, ctx, blockId, inInput),
    overflow: (e, ctx, blockId) => overflowEl(e, ctx, blockId),
    plain_text_input: (e) => textInputEl(e, false),
    number_input: (e) => textInputEl(e, true),
    checkboxes: (e, ctx, blockId, inInput) => choicesEl(e, ctx, blockId, inInput, false),
    radio_buttons: (e, ctx, blockId, inInput) => choicesEl(e, ctx, blockId, inInput, true),
    image: (e) => image(e.image_url, e.alt_text, "pg-image-element"),
    mrkdwn: (e) => textObject(e),
    plain_text: (e) => textObject(e),
    raw_text: (e) => textObject(e),
  };
  const INPUT_KINDS = new Set(["plain_text_input", "number_input", "static_select", "checkboxes", "radio_buttons"]);

  function element(e, ctx, blockId, inInput) {
    if (!e || typeof e !== "object") return unknownElement(typeof e);
    const render = ELEMENTS[e.type];
    return render ? render(e, ctx, blockId, inInput) : unknownElement(e.type);
  }

  // --- blocks ------------------------------------------------------------------------------------------------------

  function sectionBlock(block, ctx) {
    const main = h("div", { class: "pg-section-main" });
    if (block.text) main.appendChild(h("div", { class: "pg-section-text" }, textObject(block.text)));
    const fields = asList(block.fields);
    if (fields.length) main.appendChild(h("div", { class: "pg-fields" }, fields.map((f) => h("div", { class: "pg-field" }, textObject(f)))));
    const node = h("div", { class: "pg-section" }, main);
    if (block.accessory) node.appendChild(h("div", { class: "pg-accessory" }, element(block.accessory, ctx, block.block_id, false)));
    return node;
  }

  function tableBlock(block) {
    const settings = asList(block.column_settings);
    const table = h("table", { class: "pg-table" });
    const head = h("thead");
    const body = h("tbody");
    asList(block.rows).forEach((row, r) => {
      const tr = h("tr");
      asList(row).forEach((cell, c) => {
        const td = h(r === 0 ? "th" : "td");
        const setting = settings[c] || {};
        if (["left", "center", "right"].includes(setting.align)) td.style.textAlign = setting.align;
        td.className = setting.is_wrapped ? "pg-wrap" : "pg-nowrap";
        if (cell && (cell.type === "raw_text" || cell.type === "mrkdwn" || cell.type === "plain_text")) {
          td.appendChild(textObject(cell));
          if (!setting.is_wrapped) td.title = plainString(cell);
        } else if (cell && cell.type === "rich_text") td.appendChild(richText(cell));
        else td.appendChild(unknownElement(cell && cell.type));
        tr.appendChild(td);
      });
      (r === 0 ? head : body).appendChild(tr);
    });
    table.append(head, body);
    return h("div", { class: "pg-table-wrap" }, table);
  }

  function inputBlock(block, ctx) {
    const node = h("div", { class: "pg-input-block" });
    const e = block.element && typeof block.element === "object" ? block.element : {};
    const control = element(e, ctx, block.block_id, true);
    const label = h("label", { class: "pg-label" }, textObject(block.label));
    if (block.optional) label.appendChild(h("span", { class: "pg-optional" }, " (optional)"));
    if (control.matches && control.matches("input, textarea, select")) {
      control.id = nextId("pg-input");
      label.htmlFor = control.id;
    }
    node.append(label, control);
    if (block.hint) node.appendChild(h("div", { class: "pg-hint" }, textObject(block.hint)));
    if (ctx.inputs && INPUT_KINDS.has(e.type) && control.pgRead) {
      ctx.inputs.push({ block, element: e, control, container: node });
    }
    return node;
  }

  const BLOCKS = {
    section: sectionBlock,
    header: (b) => h("div", { class: "pg-header-block" }, textObject(b.text)),
    divider: () => h("hr", { class: "pg-divider" }),
    context: (b) =>
      h(
        "div",
        { class: "pg-context" },
        asList(b.elements).map((e) =>
          e && e.type === "image"
            ? image(e.image_url, e.alt_text, "pg-context-image")
            : h("span", { class: "pg-context-item" }, e && TEXT_TYPES.has(e.type) ? textObject(e) : unknownElement(e && e.type)),
        ),
      ),
    actions: (b, ctx) => h("div", { class: "pg-actions" }, asList(b.elements).map((e) => element(e, ctx, b.block_id, false))),
    image: (b) =>
      h(
        "figure",
        { class: "pg-image-block" },
        b.title ? h("figcaption", { class: "pg-image-title" }, textObject(b.title)) : null,
        image(b.image_url, b.alt_text, "pg-image"),
      ),
    input: inputBlock,
    markdown: (b) => markdown(String(b.text ?? "")),
    rich_text: (b) => richText(b),
    table: tableBlock,
  };

  function block(b, ctx) {
    if (!b || typeof b !== "object") return unknownBlock(typeof b);
    const render = BLOCKS[b.type];
    if (!render) return unknownBlock(b.type);
    let node;
    try {
      node = render(b, ctx);
    } catch (error) {
      console.warn("vpnbot playground: could not render a block", b.type, error);
      node = h("div", { class: "pg-broken" }, `this ${b.type} block could not be shown (${error && error.message})`);
    }
    node.classList.add("pg-block", `pg-block-${b.type}`);
    if (b.block_id !== undefined) node.dataset.blockId = String(b.block_id);
    return node;
  }

  /**
   * Block Kit as this page shows it. opts: surface ("message" | "modal" | "home"), and for interactions
   * source/channel/ts/viewId; inputs (an array) collects the input blocks for a modal's submit.
   */
  function renderBlocks(blocks, opts = {}) {
    const ctx = {
      surface: opts.surface || "message",
      source: opts.source === undefined ? opts.surface || "message" : opts.source,
      channel: opts.channel ?? null,
      ts: opts.ts ?? null,
      viewId: opts.viewId ?? null,
      inputs: opts.inputs ?? null,
    };
    const root = h("div", { class: `pg-blocks pg-surface-${ctx.surface}` });
    for (const b of asList(blocks)) root.appendChild(block(b, ctx));
    return root;
  }

  // --- talking to the server ---------------------------------------------------------------------------------------

  async function post(path, body) {
    if (RENDER_TEST) {
      app.posts.push({ path, body: JSON.parse(JSON.stringify(body)) });
      return app.answers[path] ?? { ok: true };
    }
    try {
      const response = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      let answer;
      try {
        answer = await response.json();
      } catch {
        answer = null;
      }
      if (!answer || typeof answer !== "object") return { ok: false, error: `HTTP ${response.status}` };
      if (!response.ok && answer.ok === undefined) return { ok: false, error: answer.error || `HTTP ${response.status}` };
      return answer;
    } catch {
      return { ok: false, error: "the playground server did not answer" };
    }
  }

  async function getJson(path) {
    const response = await fetch(path, { headers: { Accept: "application/json" } });
    const answer = await response.json().catch(() => null);
    if (!response.ok) throw new Error((answer && answer.error) || `HTTP ${response.status}`);
    return answer;
  }

  function act(ctx, action, node) {
    if (!ctx.source) return;
    const body = { user: app.user, source: ctx.source, ...action };
    if (body.value === undefined) delete body.value;
    if (body.block_id === undefined) body.block_id = null;
    if (ctx.source === "message" || ctx.source === "ephemeral") {
      if (ctx.channel) body.channel = ctx.channel;
      if (ctx.ts) body.ts = ctx.ts;
    } else if (ctx.viewId) body.view_id = ctx.viewId;
    if (node) {
      node.classList.add("pg-busy");
      if ("disabled" in node) node.disabled = true;
    }
    post("/api/action", body).then((answer) => {
      if (node) {
        node.classList.remove("pg-busy");
        if ("disabled" in node) node.disabled = false;
      }
      if (!answer.ok) systemLine(`That did not reach vpnbot: ${answer.error || "unknown error"}`, "error");
      requestState();
    });
  }

  /** Re-fetch the state: at most one request in flight and one queued, whatever the burst of events. */
  function requestState() {
    if (RENDER_TEST) return;
    if (app.fetching) {
      app.queued = true;
      return;
    }
    app.fetching = true;
    fetchState().finally(() => {
      app.fetching = false;
      if (app.queued) {
        app.queued = false;
        requestState();
      }
    });
  }

  async function fetchState() {
    const asked = app.user;
    let state;
    try {
      state = await getJson(asked ? `/api/state?user=${encodeURIComponent(asked)}` : "/api/state");
    } catch (error) {
      setStatus(`The playground server did not answer (${error.message}); retrying on the next event.`);
      return;
    }
    if (asked !== app.user) {
      app.queued = true; // the person changed meanwhile: this state is someone else's view
      return;
    }
    const people = asList(state.people).map((p) => p.id);
    if (!asked || !people.includes(asked)) {
      const chosen = people.includes(state.me) ? state.me : people[0];
      if (chosen && chosen !== asked) {
        setUser(chosen);
        app.queued = true;
        if (asked) return;
      }
    }
    setStatus("");
    show(state);
  }

  function connectEvents() {
    const events = new EventSource("/api/events");
    // Every event re-fetches (its version is not compared: a change may be one the version does not count);
    // requestState() keeps a burst to one fetch in flight and one queued.
    events.addEventListener("changed", () => requestState());
    events.addEventListener("open", () => {
      setStatus("");
      requestState();
    });
    events.addEventListener("error", () => {
      if (events.readyState !== EventSource.OPEN) setStatus("Reconnecting to the playground…");
    });
  }

  function setStatus(text) {
    const node = $("status");
    node.textContent = text;
    node.hidden = !text;
  }

  // --- the person ----------------------------------------------------------------------------------------------

  function setUser(user) {
    app.user = user;
    try {
      localStorage.setItem(USER_KEY, user);
    } catch {
      /* private mode: the URL still carries it */
    }
    const url = new URL(location.href);
    url.searchParams.set("user", user);
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }

  function switchUser(user) {
    if (!user || user === app.user) return;
    setUser(user);
    resetModal();
    app.home = null;
    $("home-body").replaceChildren();
    if (app.view === "home") post("/api/home", { user });
    requestState();
  }

  // --- the whole page from a state ----------------------------------------------------------------------------

  function show(state) {
    app.state = state;
    const dir = app.directory;
    dir.users = new Map(asList(state.people).map((p) => [p.id, p.name]));
    if (state.bot) dir.users.set(state.bot.id, state.bot.name);
    dir.groups = new Map(asList(state.groups).map((g) => [g.id, g.handle]));
    dir.channels = new Map(state.channel ? [[state.channel.id, state.channel.name]] : []);
    app.namesKey = JSON.stringify([state.people, state.groups, state.channel, state.bot, app.user]);
    showPeople(state);
    showChannel(state);
    showMessages(state);
    showThread(state);
    showModal(state);
    showHome(state);
    showPeerConnections(state);
    showRefusals(state);
    followAnchor();
  }

  /** What Slack refused the bot (a Block Kit mistake): one error line each, as it happens, for every person. */
  function showRefusals(state) {
    const refusals = asList(state.refusals);
    const total = Number(state.refusals_total) || refusals.length;
    const seen = app.refusalsSeen === null ? total - refusals.length : app.refusalsSeen;
    app.refusalsSeen = total;
    const fresh = refusals.slice(Math.max(0, refusals.length - (total - seen)));
    for (const refusal of fresh) {
      systemLine(`Slack would refuse vpnbot's ${String(refusal.method)}: ${String(refusal.problem)}`, "error");
    }
  }

  function showPeople(state) {
    const select = $("person");
    const people = asList(state.people);
    const key = JSON.stringify(people) + app.user;
    if (select.dataset.key !== key) {
      select.replaceChildren(
        ...people.map((p) => h("option", { value: p.id }, p.role ? `${p.name} (${p.role})` : String(p.name))),
      );
      select.dataset.key = key;
    }
    select.value = app.user || "";
    const list = $("people");
    list.replaceChildren(
      ...people.map((p) => {
        const item = h(
          "li",
          { class: `pg-person${p.id === app.user ? " pg-person-me" : ""}`, title: `View the workspace as ${p.name}` },
          avatar(p.name, p.id),
          h("span", { class: "pg-person-name" }, String(p.name)),
          p.id === app.user ? h("span", { class: "pg-you" }, "you") : null,
          p.role ? h("span", { class: "pg-person-role" }, String(p.role)) : null,
        );
        item.dataset.user = p.id;
        item.addEventListener("click", () => switchUser(p.id));
        return item;
      }),
    );
    const groups = $("groups");
    groups.replaceChildren(
      ...asList(state.groups).map((g) =>
        h("li", { class: "pg-group-item", title: String(g.name ?? "") }, `@${g.handle}`, h("span", { class: "pg-person-role" }, `${asList(g.members).length} members`)),
      ),
    );
  }

  function avatar(name, id) {
    const colors = ["#e8912d", "#2bac76", "#1264a3", "#cd2553", "#7c3085", "#4a8a9c", "#b3631d"];
    let sum = 0;
    for (const ch of String(id)) sum = (sum * 31 + ch.charCodeAt(0)) % 997;
    const initials = String(name || "?")
      .split(/[\s._-]+/)
      .filter(Boolean)
      .slice(0, 2)
      .map((w) => Array.from(w)[0].toUpperCase())
      .join("");
    const node = h("span", { class: "pg-avatar", "aria-hidden": "true" }, initials || "?");
    node.style.backgroundColor = colors[sum % colors.length];
    return node;
  }

  function botAvatar() {
    return h("span", { class: "pg-avatar pg-avatar-bot", "aria-hidden": "true" }, h("span", { class: "pg-bot-glyph" }, "V"));
  }

  function showChannel(state) {
    const name = state.channel ? String(state.channel.name) : "netops";
    for (const node of document.querySelectorAll(".pg-channel-name")) node.textContent = name;
    $("composer").placeholder = `Message #${name} — try /vpn edit vpnx-ol6bcqp0`;
    const count = asList(state.people).length + (state.bot ? 1 : 0);
    $("member-count").textContent = `${count} members`;
  }

  // --- messages ------------------------------------------------------------------------------------------------

  function cmpTs(a, b) {
    const [ai, af = ""] = String(a).split(".");
    const [bi, bf = ""] = String(b).split(".");
    const d = Number(ai) - Number(bi);
    if (d) return d;
    return af.padEnd(6, "0") < bf.padEnd(6, "0") ? -1 : af.padEnd(6, "0") > bf.padEnd(6, "0") ? 1 : 0;
  }

  const tsDate = (ts) => new Date(Number(String(ts).split(".")[0]) * 1000);

  function dayLabel(date) {
    const offset = dayOffset(date);
    if (offset === 0) return "Today";
    if (offset === -1) return "Yesterday";
    return new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric" }).format(date);
  }

  function authorOf(message) {
    const state = app.state || {};
    const botId = state.bot && state.bot.id;
    if (message.bot_id || (botId && message.user === botId)) return { name: (state.bot && state.bot.name) || "vpnbot", bot: true };
    return { name: app.directory.users.get(message.user) || message.user || "someone", bot: false, id: message.user };
  }

  function messageNode(message, opts) {
    const author = authorOf(message);
    const node = h("div", { class: "pg-message" });
    node.dataset.ts = String(message.ts);
    const time = tsDate(message.ts);
    const stamp = h(
      "time",
      { class: "pg-time", datetime: time.toISOString(), title: DATE_TOKENS.date_long(time) + " " + DATE_TOKENS.time_secs(time) },
      DATE_TOKENS.time(time),
    );
    const head = h(
      "div",
      { class: "pg-message-head" },
      h("span", { class: "pg-author" }, author.name),
      author.bot ? h("span", { class: "pg-app-badge" }, "APP") : null,
      stamp,
      message.edited ? h("span", { class: "pg-edited" }, "(edited)") : null,
    );
    const hasBlocks = Array.isArray(message.blocks) && message.blocks.length > 0;
    const content = hasBlocks
      ? renderBlocks(message.blocks, { surface: "message", source: opts.source, channel: opts.channel, ts: message.ts })
      : h("div", { class: "pg-blocks pg-fallback-text" }, mrkdwn(String(message.text ?? "")));
    const body = h("div", { class: "pg-message-body" }, head, content);
    if (opts.ephemeral) {
      node.classList.add("pg-ephemeral");
      const dismiss = h("a", { class: "pg-dismiss", href: "#", role: "button" }, "Dismiss");
      dismiss.addEventListener("click", (event) => {
        event.preventDefault();
        app.dismissed.add(`${app.user} ${message.ts}`);
        if (app.state) showMessages(app.state);
      });
      body.insertBefore(
        h("div", { class: "pg-only-you" }, h("span", { class: "pg-eye" }, "◉"), "Only visible to you", dismiss),
        head,
      );
    }
    const replies = opts.replies || 0;
    if (replies > 0) {
      const label = `${replies} ${replies === 1 ? "reply" : "replies"}`;
      const open = h("a", { class: "pg-replies", href: "#", role: "button" }, label);
      open.addEventListener("click", (event) => {
        event.preventDefault();
        openThread(message.ts);
      });
      const last = opts.lastReply ? h("span", { class: "pg-last-reply" }, `Last reply ${DATE_TOKENS.time(tsDate(opts.lastReply))}`) : null;
      body.appendChild(h("div", { class: "pg-thread-summary" }, botAvatarMini(), open, last));
    }
    node.append(author.bot ? botAvatar() : avatar(author.name, author.id || author.name), body);
    return node;
  }

  function botAvatarMini() {
    return h("span", { class: "pg-avatar pg-avatar-bot pg-avatar-mini", "aria-hidden": "true" }, "V");
  }

  function systemNode(line) {
    const node = h("div", { class: `pg-message pg-system pg-system-${line.kind}` });
    node.dataset.ts = line.ts;
    const body = h(
      "div",
      { class: "pg-message-body" },
      h("div", { class: "pg-only-you" }, h("span", { class: "pg-eye" }, "◉"), "Only visible to you · from the playground"),
      h("div", { class: "pg-system-text" }, line.text),
    );
    node.append(h("span", { class: "pg-avatar pg-avatar-system", "aria-hidden": "true" }, "!"), body);
    return node;
  }

  /** Keep the nodes whose item did not change; render the others; put all in the items' order. */
  function syncList(container, items) {
    const old = container.pgNodes || new Map();
    const next = new Map();
    const nodes = items.map((item) => {
      const entry = old.get(item.key);
      const node = entry && entry.sig === item.sig ? entry.node : item.render();
      next.set(item.key, { sig: item.sig, node });
      return node;
    });
    const wanted = new Set(nodes);
    for (const child of [...container.childNodes]) if (!wanted.has(child)) child.remove();
    let cursor = container.firstChild;
    for (const node of nodes) {
      if (node === cursor) cursor = cursor.nextSibling;
      else container.insertBefore(node, cursor);
    }
    container.pgNodes = next;
  }

  function showMessages(state) {
    const list = $("messages");
    const channel = state.channel ? state.channel.id : null;
    const entries = [];
    for (const message of asList(state.messages)) {
      const replies = asList(message.replies);
      const count = Math.max(Number(message.reply_count) || 0, replies.length);
      entries.push({
        ts: message.ts,
        key: `m ${message.ts}`,
        sig: JSON.stringify([message, app.namesKey]),
        render: () =>
          messageNode(message, {
            source: "message",
            channel,
            replies: count,
            lastReply: replies.length ? replies[replies.length - 1].ts : message.latest_reply,
          }),
      });
    }
    for (const e of asList(state.ephemerals)) {
      if (app.dismissed.has(`${app.user} ${e.message_ts}`)) continue;
      const message = { ts: e.message_ts, text: e.text, blocks: e.blocks, bot_id: "ephemeral" };
      entries.push({
        ts: e.message_ts,
        key: `e ${e.message_ts}`,
        sig: JSON.stringify([e, app.namesKey]),
        render: () => messageNode(message, { source: "ephemeral", channel, ephemeral: true }),
      });
    }
    for (const line of app.system) {
      if (line.user !== app.user) continue;
      entries.push({ ts: line.ts, key: `s ${line.ts}`, sig: line.text, render: () => systemNode(line) });
    }
    entries.sort((a, b) => cmpTs(a.ts, b.ts));
    const items = [];
    let day = null;
    for (const entry of entries) {
      const label = dayLabel(tsDate(entry.ts));
      if (label !== day) {
        day = label;
        items.push({ key: `d ${label}`, sig: label, render: () => h("div", { class: "pg-day" }, h("span", {}, label)) });
      }
      items.push(entry);
    }
    if (!items.length) {
      items.push({
        key: "empty",
        sig: "empty",
        render: () =>
          h(
            "div",
            { class: "pg-empty" },
            h("div", { class: "pg-empty-title" }, "This is the very beginning of #", state.channel ? String(state.channel.name) : "netops"),
            h("div", {}, "Type ", h("code", { class: "pg-code" }, "/vpn help"), " below to talk to vpnbot."),
          ),
      });
    }
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 120;
    const first = !list.pgNodes;
    syncList(list, items);
    if ((first || nearBottom) && !app.anchor) list.scrollTop = list.scrollHeight;
  }

  function systemLine(text, kind = "info") {
    let micros = Date.now() * 1000;
    if (micros <= app.lastSystemMicros) micros = app.lastSystemMicros + 1;
    app.lastSystemMicros = micros;
    const ts = `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, "0")}`;
    app.system.push({ ts, text, kind, user: app.user });
    if (app.state) showMessages(app.state);
    const list = $("messages");
    list.scrollTop = list.scrollHeight;
    if (app.view === "home" || app.modal) toast(text);
  }

  function toast(text) {
    const node = $("toast");
    node.textContent = text;
    node.hidden = false;
    clearTimeout(node.pgTimer);
    node.pgTimer = setTimeout(() => {
      node.hidden = true;
    }, 6000);
  }

  // --- threads -------------------------------------------------------------------------------------------------

  function findMessage(ts) {
    for (const message of asList(app.state && app.state.messages)) {
      if (message.ts === ts) return { message, parent: null };
      const reply = asList(message.replies).find((r) => r.ts === ts);
      if (reply) return { message: reply, parent: message };
    }
    return null;
  }

  function openThread(ts) {
    app.threadTs = ts;
    $("thread").hidden = false;
    document.body.classList.add("pg-thread-open");
    $("thread-messages").pgNodes = null;
    $("thread-messages").replaceChildren();
    if (app.state) showThread(app.state);
  }

  function closeThread() {
    app.threadTs = null;
    $("thread").hidden = true;
    document.body.classList.remove("pg-thread-open");
  }

  function showThread(state) {
    if (!app.threadTs) return;
    const found = findMessage(app.threadTs);
    const list = $("thread-messages");
    if (!found || found.parent) {
      syncList(list, [{ key: "gone", sig: "gone", render: () => h("div", { class: "pg-empty" }, "This message is no longer in the channel.") }]);
      return;
    }
    const parent = found.message;
    const channel = state.channel ? state.channel.id : null;
    const replies = asList(parent.replies);
    const items = [
      { key: `p ${parent.ts}`, sig: JSON.stringify([parent, app.namesKey, "parent"]), render: () => messageNode({ ...parent }, { source: "message", channel }) },
      {
        key: "count",
        sig: String(replies.length),
        render: () => h("div", { class: "pg-thread-count" }, `${replies.length} ${replies.length === 1 ? "reply" : "replies"}`),
      },
      ...replies.map((reply) => ({
        key: `r ${reply.ts}`,
        sig: JSON.stringify([reply, app.namesKey]),
        render: () => messageNode(reply, { source: "message", channel }),
      })),
    ];
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 120;
    syncList(list, items);
    if (nearBottom && !app.anchor) list.scrollTop = list.scrollHeight;
  }

  // --- #msg-<ts> anchors -------------------------------------------------------------------------------------------

  function anchorFromHash() {
    const m = /^#msg-(\d+\.\d+)$/.exec(location.hash);
    app.anchor = m ? m[1] : null;
  }

  function goToMessage(ts) {
    if (location.hash === `#msg-${ts}`) {
      app.anchor = ts;
      followAnchor();
    } else location.hash = `msg-${ts}`;
  }

  function followAnchor() {
    if (!app.anchor || !app.state) return;
    const found = findMessage(app.anchor);
    if (!found) return;
    const ts = app.anchor;
    app.anchor = null;
    if (app.view !== "channel") showView("channel");
    const topTs = found.parent ? found.parent.ts : ts;
    const node = [...$("messages").querySelectorAll(".pg-message")].find((n) => n.dataset.ts === topTs);
    for (const old of document.querySelectorAll(".pg-highlight")) old.classList.remove("pg-highlight");
    if (node) {
      node.classList.add("pg-highlight");
      node.scrollIntoView({ block: "center" });
    }
    if (found.parent) {
      openThread(found.parent.ts);
      const reply = [...$("thread-messages").querySelectorAll(".pg-message")].find((n) => n.dataset.ts === ts);
      if (reply) {
        reply.classList.add("pg-highlight");
        reply.scrollIntoView({ block: "center" });
      }
    }
  }

  // --- the modal ---------------------------------------------------------------------------------------------------

  function resetModal() {
    app.modal = null;
    $("modal").hidden = true;
    $("modal-body").replaceChildren();
  }

  function showModal(state) {
    const view = state.modal;
    if (!view || typeof view !== "object" || view.id === app.closedView) {
      if (!view || typeof view !== "object") app.closedView = null;
      resetModal();
      return;
    }
    const errorsKey = JSON.stringify(state.modal_errors || {});
    if (app.modal && app.modal.id === view.id && app.modal.hash === view.hash) {
      if (errorsKey !== app.modal.errorsKey) {
        app.modal.errorsKey = errorsKey;
        showModalErrors(state.modal_errors || {});
      }
      return;
    }
    const inputs = [];
    const body = renderBlocks(view.blocks, { surface: "modal", source: "modal", viewId: view.id, inputs });
    app.modal = { id: view.id, hash: view.hash, inputs, errorsKey, submitting: false };
    $("modal-title").replaceChildren(plain(rawText(view.title) || "vpnbot"));
    $("modal-body").replaceChildren(body);
    $("modal-body").scrollTop = 0;
    const submit = $("modal-submit");
    submit.hidden = !view.submit;
    submit.disabled = false;
    submit.replaceChildren(plain(rawText(view.submit) || "Submit"));
    $("modal-close").replaceChildren(plain(rawText(view.close) || "Cancel"));
    $("modal-back").hidden = !view.previous_view_id;
    const wasHidden = $("modal").hidden;
    $("modal").hidden = false;
    showModalErrors(state.modal_errors || {});
    if (wasHidden) {
      const first = $("modal-body").querySelector("input, textarea, select");
      if (first) first.focus();
      else if (submit.hidden) $("modal-close").focus();
      else submit.focus();
    }
  }

  function clearModalErrors() {
    for (const node of $("modal").querySelectorAll(".pg-error, .pg-modal-alert")) node.remove();
    for (const node of $("modal").querySelectorAll(".pg-invalid")) node.classList.remove("pg-invalid");
  }

  function containerFor(blockId) {
    return [...$("modal-body").querySelectorAll(".pg-input-block[data-block-id]")].find((n) => n.dataset.blockId === blockId)
      || [...$("modal-body").querySelectorAll("[data-block-id]")].find((n) => n.dataset.blockId === blockId);
  }

  function showModalErrors(errors) {
    clearModalErrors();
    const stray = [];
    for (const [blockId, message] of Object.entries(errors || {})) {
      const container = containerFor(blockId);
      if (!container) {
        stray.push(`${blockId}: ${message}`);
        continue;
      }
      const control = container.querySelector(".pg-text-input, .pg-select, .pg-checkboxes, .pg-radios");
      if (control) control.classList.add("pg-invalid");
      const note = h("div", { class: "pg-error", role: "alert" }, String(message));
      const hint = container.querySelector(":scope > .pg-hint");
      container.insertBefore(note, hint);
    }
    if (stray.length) modalAlert(stray.join("\n"));
    const first = $("modal-body").querySelector(".pg-error");
    if (first) first.scrollIntoView({ block: "nearest" });
  }

  function modalAlert(text) {
    $("modal-body").prepend(h("div", { class: "pg-modal-alert", role: "alert" }, text));
  }

  /** What Slack's client refuses to send: empty required fields, numbers out of range, lengths. */
  function problemOf(input, state) {
    const e = input.element;
    const required = !input.block.optional;
    const type = e.type;
    if (type === "checkboxes") return required && !state.selected_options.length ? "Please complete this required field." : null;
    if (type === "static_select" || type === "radio_buttons") return required && !state.selected_option ? "Please complete this required field." : null;
    const value = state.value;
    if (value === null || value.trim() === "") return required ? "Please complete this required field." : null;
    if (type === "number_input") {
      const text = value.trim();
      if (!/^-?(\d+(\.\d*)?|\.\d+)$/.test(text)) return "Please enter a number.";
      if (!e.is_decimal_allowed && !/^-?\d+$/.test(text)) return "Please enter a whole number (no decimals).";
      const n = Number(text);
      if (e.min_value !== undefined && e.min_value !== null && n < Number(e.min_value)) return `Please enter a number that is at least ${e.min_value}.`;
      if (e.max_value !== undefined && e.max_value !== null && n > Number(e.max_value)) return `Please enter a number that is no more than ${e.max_value}.`;
      return null;
    }
    const length = Array.from(value).length;
    if (e.max_length && length > Number(e.max_length)) {
      return `Please use ${e.max_length} characters or fewer (${length - Number(e.max_length)} over).`;
    }
    if (e.min_length && length < Number(e.min_length)) return `Please use at least ${e.min_length} characters.`;
    return null;
  }

  function readInput(input) {
    const e = input.element;
    const read = input.control.pgRead();
    if (e.type === "checkboxes") return { type: e.type, selected_options: read };
    if (e.type === "static_select" || e.type === "radio_buttons") return { type: e.type, selected_option: read };
    return { type: e.type, value: read };
  }

  async function submitModal() {
    const modal = app.modal;
    if (!modal || modal.submitting) return;
    clearModalErrors();
    const values = {};
    const problems = {};
    for (const input of modal.inputs) {
      const blockId = String(input.block.block_id ?? "");
      const actionId = String(input.element.action_id ?? blockId);
      const state = readInput(input);
      (values[blockId] ||= {})[actionId] = state;
      const problem = problemOf(input, state);
      if (problem && !(blockId in problems)) problems[blockId] = problem;
    }
    if (Object.keys(problems).length) {
      showModalErrors(problems);
      const first = $("modal-body").querySelector("input.pg-invalid, textarea.pg-invalid, select.pg-invalid");
      if (first) first.focus();
      return;
    }
    modal.submitting = true;
    const submit = $("modal-submit");
    submit.disabled = true;
    submit.classList.add("pg-busy");
    const answer = await post("/api/submit", { user: app.user, view_id: modal.id, values });
    submit.classList.remove("pg-busy");
    if (app.modal !== modal) return requestState();
    modal.submitting = false;
    submit.disabled = false;
    if (!answer.ok) modalAlert(`Submitting did not work: ${answer.error || "unknown error"}`);
    else if (answer.errors && Object.keys(answer.errors).length) showModalErrors(answer.errors);
    else if (answer.closed) {
      app.closedView = modal.id;
      resetModal();
    }
    requestState();
  }

  function closeModal() {
    const modal = app.modal;
    if (!modal) return;
    app.closedView = modal.id;
    resetModal(); // at once, as Slack does
    post("/api/close", { user: app.user, view_id: modal.id }).then((answer) => {
      if (!answer.ok) {
        app.closedView = null;
        systemLine(`Closing the modal did not reach vpnbot: ${answer.error || "unknown error"}`, "error");
      }
      requestState();
    });
  }

  // --- confirm dialogs ---------------------------------------------------------------------------------------------

  function openConfirm(confirm, onYes, onNo) {
    const c = confirm && typeof confirm === "object" ? confirm : {};
    $("confirm-title").replaceChildren(plain(rawText(c.title) || "Are you sure?"));
    $("confirm-text").replaceChildren(textObject(c.text || { type: "plain_text", text: "" }));
    const yes = $("confirm-yes");
    yes.replaceChildren(plain(rawText(c.confirm) || "Yes"));
    yes.className = `pg-button ${c.style === "danger" ? "pg-button-danger" : "pg-button-primary"}`;
    $("confirm-no").replaceChildren(plain(rawText(c.deny) || "Cancel"));
    app.confirm = { onYes, onNo };
    $("confirm").hidden = false;
    $("confirm-no").focus();
  }

  function answerConfirm(yes) {
    const pending = app.confirm;
    app.confirm = null;
    $("confirm").hidden = true;
    if (!pending) return;
    if (yes) pending.onYes();
    else if (pending.onNo) pending.onNo();
  }

  // --- the Home tab --------------------------------------------------------------------------------------------

  function showView(which) {
    app.view = which;
    $("channel-view").hidden = which !== "channel";
    $("home").hidden = which !== "home";
    $("open-channel").classList.toggle("pg-active", which === "channel");
    $("open-home").classList.toggle("pg-active", which === "home");
  }

  function openHome() {
    showView("home");
    if (app.user) post("/api/home", { user: app.user }).then(requestState);
  }

  function showHome(state) {
    const view = state.home;
    const body = $("home-body");
    if (!view || typeof view !== "object") {
      app.home = null;
      body.replaceChildren(h("div", { class: "pg-home-empty" }, "vpnbot has not published a Home tab for you yet."));
      return;
    }
    if (app.home && app.home.id === view.id && app.home.hash === view.hash && app.home.names === app.namesKey) return;
    app.home = { id: view.id, hash: view.hash, names: app.namesKey };
    body.replaceChildren(renderBlocks(view.blocks, { surface: "home", source: "home", viewId: view.id }));
  }

  // --- the composer --------------------------------------------------------------------------------------------

  async function sendComposer() {
    const input = $("composer");
    const text = input.value.trim();
    if (!text || input.disabled) return;
    hideSuggestions();
    if (!/^\/vpn(\s|$)/.test(text)) {
      input.value = "";
      systemLine(HINT, "hint");
      return;
    }
    input.disabled = true;
    $("send").disabled = true;
    const answer = await post("/api/command", { user: app.user, text });
    input.disabled = false;
    $("send").disabled = false;
    if (answer.ok) input.value = "";
    else systemLine(`${text.split(/\s/)[0]} failed: ${answer.error || "unknown error"}`, "error");
    input.focus();
    requestState();
  }

  function showSuggestions() {
    const text = $("composer").value;
    const box = $("composer-suggest");
    if (!text.startsWith("/") || text.includes("  ") || /^\/vpn \S+ /.test(text)) {
      hideSuggestions();
      return;
    }
    const matches = COMMANDS.filter(([command]) => command.startsWith(text));
    if (!matches.length) {
      hideSuggestions();
      return;
    }
    box.replaceChildren(
      h("div", { class: "pg-suggest-title" }, "Commands matching “", text, "”"),
      ...matches.map(([command, what]) => {
        const item = h("button", { type: "button", class: "pg-suggest-item" }, h("strong", {}, command.trim()), " ", h("span", {}, what));
        item.addEventListener("mousedown", (event) => {
          event.preventDefault();
          $("composer").value = command;
          hideSuggestions();
          $("composer").focus();
        });
        return item;
      }),
    );
    box.hidden = false;
  }

  function hideSuggestions() {
    $("composer-suggest").hidden = true;
  }

  // --- the peer panel --------------------------------------------------------------------------------------------

  function showPeerConnections(state) {
    const select = $("peer-conn");
    const connections = asList(state.connections);
    const key = JSON.stringify(connections);
    if (select.dataset.key === key) return;
    select.dataset.key = key;
    let wanted = select.value;
    if (!wanted) {
      try {
        wanted = localStorage.getItem(PEER_KEY) || "";
      } catch {
        wanted = "";
      }
    }
    select.replaceChildren(
      ...connections.map((c) => h("option", { value: c.id }, c.name ? `${c.name} (${c.id})` : String(c.id))),
    );
    if (connections.some((c) => c.id === wanted)) select.value = wanted;
    if (!$("peer").hidden) refreshPeer();
  }

  function togglePeer(open) {
    const panel = $("peer");
    const opening = open === undefined ? panel.hidden : open;
    panel.hidden = !opening;
    $("peer-toggle").setAttribute("aria-expanded", String(opening));
    clearInterval(app.peerTimer);
    app.peerTimer = null;
    if (opening) {
      refreshPeer();
      if (!RENDER_TEST) app.peerTimer = setInterval(refreshPeer, PEER_REFRESH_MS);
    }
  }

  async function refreshPeer() {
    const id = $("peer-conn").value;
    if (!id) {
      $("peer-state").replaceChildren(h("div", { class: "pg-peer-note" }, "No VPN connection to play the peer of."));
      return;
    }
    if (RENDER_TEST) return;
    try {
      showPeer(await getJson(`/api/peer/${encodeURIComponent(id)}`), id);
    } catch (error) {
      if ($("peer-conn").value === id) {
        $("peer-state").replaceChildren(h("div", { class: "pg-peer-note" }, `Could not read the peer: ${error.message}`));
      }
    }
  }

  async function changePeer(patch) {
    const id = $("peer-conn").value;
    if (!id) return;
    peerError("");
    if (RENDER_TEST) {
      app.posts.push({ path: `/api/peer/${id}`, body: patch });
      return;
    }
    try {
      const response = await fetch(`/api/peer/${encodeURIComponent(id)}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(patch),
      });
      const answer = await response.json().catch(() => null);
      if (!response.ok || !answer || answer.error) peerError((answer && answer.error) || `HTTP ${response.status}`);
      else showPeer(answer, id);
    } catch {
      peerError("the playground server did not answer");
    }
    refreshPeer();
  }

  function peerError(text) {
    const node = $("peer-error");
    node.textContent = text;
    node.hidden = !text;
  }

  function showPeer(answer, id) {
    if (!answer || $("peer-conn").value !== id) return;
    const match =
      answer.match === true
        ? h("div", { class: "pg-peer-match pg-ok" }, "✔ The peer matches the connection")
        : answer.match === false
          ? h("div", { class: "pg-peer-match pg-bad" }, "✖ The peer does not match: ", asList(answer.mismatches).join(", ") || "(no field named)")
          : h("div", { class: "pg-peer-match pg-none" }, "No peer is modelled for this connection");
    const status = String(answer.netStatus ?? "unknown");
    const up = status === "available";
    const tunnel = h(
      "div",
      { class: "pg-peer-tunnel" },
      h("span", { class: `pg-emoji pg-emoji-dot ${up ? "pg-emoji-green" : "pg-emoji-red"}` }),
      " Tunnel ",
      h("strong", {}, status),
      answer.renegotiatesAt ? h("span", { class: "pg-peer-note" }, ` · renegotiating ${renegotiation(answer.renegotiatesAt)}`) : null,
    );
    const rows = [];
    const flat = (prefix, value) => {
      if (value && typeof value === "object" && !Array.isArray(value)) {
        for (const [k, v] of Object.entries(value)) flat(prefix ? `${prefix}.${k}` : k, v);
      } else rows.push([prefix, value === null ? "—" : typeof value === "string" ? value : JSON.stringify(value)]);
    };
    if (answer.peer) flat("", answer.peer);
    const settings = answer.peer
      ? h(
          "details",
          { class: "pg-peer-settings" },
          h("summary", {}, "The peer's settings"),
          h("table", { class: "pg-table pg-peer-table" }, h("tbody", {}, rows.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", { class: "pg-wrap" }, v))))),
        )
      : null;
    const open = $("peer-state").querySelector("details");
    $("peer-state").replaceChildren(match, tunnel, settings);
    if (open && open.open && settings) settings.open = true;
  }

  function renegotiation(at) {
    const seconds = Math.round(Number(at) - Date.now() / 1000);
    return Number.isFinite(seconds) && seconds > 0 && seconds < 86400 ? `in ${seconds}s` : "soon";
  }

  function parseSetting(text) {
    const at = text.indexOf("=");
    if (at <= 0) return null;
    const key = text.slice(0, at).trim();
    let value = text.slice(at + 1).trim();
    if (/^[\[{]/.test(value)) {
      try {
        value = JSON.parse(value);
      } catch {
        /* sent as text: the simulator names what is wrong */
      }
    }
    return key ? { [key]: value } : null;
  }

  // --- wiring --------------------------------------------------------------------------------------------------

  function wire() {
    $("person").addEventListener("change", (event) => switchUser(event.target.value));
    $("open-home").addEventListener("click", (event) => {
      event.preventDefault();
      openHome();
    });
    $("open-channel").addEventListener("click", (event) => {
      event.preventDefault();
      showView("channel");
    });
    $("thread-close").addEventListener("click", closeThread);
    $("composer-form").addEventListener("submit", (event) => {
      event.preventDefault();
      sendComposer();
    });
    const composer = $("composer");
    composer.addEventListener("input", showSuggestions);
    composer.addEventListener("blur", hideSuggestions);
    composer.addEventListener("keydown", (event) => {
      if (event.key === "Tab" && !$("composer-suggest").hidden) {
        const first = COMMANDS.find(([command]) => command.startsWith(composer.value));
        if (first) {
          event.preventDefault();
          composer.value = first[0];
          hideSuggestions();
        }
      }
    });
    $("modal-submit").addEventListener("click", submitModal);
    $("modal-close").addEventListener("click", closeModal);
    $("modal-x").addEventListener("click", closeModal);
    $("modal-back").addEventListener("click", closeModal);
    $("modal").addEventListener("mousedown", (event) => {
      if (event.target === $("modal")) event.preventDefault();
    });
    $("confirm-yes").addEventListener("click", () => answerConfirm(true));
    $("confirm-no").addEventListener("click", () => answerConfirm(false));
    $("confirm").addEventListener("click", (event) => {
      if (event.target === $("confirm")) answerConfirm(false);
    });
    $("peer-toggle").addEventListener("click", () => togglePeer());
    $("peer-close").addEventListener("click", () => togglePeer(false));
    $("peer-conn").addEventListener("change", () => {
      try {
        localStorage.setItem(PEER_KEY, $("peer-conn").value);
      } catch {
        /* not kept */
      }
      refreshPeer();
    });
    $("peer-mirror").addEventListener("click", () => changePeer({ mirror: true }));
    $("peer-psk-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $("peer-psk");
      if (!input.value) return peerError("Type the key the peer should have.");
      const patch = { preSharedKey: input.value };
      input.value = "";
      changePeer(patch);
    });
    $("peer-setting-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const patch = parseSetting($("peer-setting").value);
      if (!patch) return peerError("Write KEY=VALUE, e.g. IKESet.dhGroupName=group14");
      changePeer(patch);
    });
    document.addEventListener("click", closeMenus);
    document.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      if (!$("confirm").hidden) {
        event.preventDefault();
        answerConfirm(false);
      } else if (document.querySelector(".pg-overflow-menu:not([hidden])")) {
        closeMenus();
      } else if (!$("modal").hidden && app.modal) {
        event.preventDefault();
        closeModal();
      } else if (!$("composer-suggest").hidden) {
        hideSuggestions();
      }
    });
    window.addEventListener("hashchange", () => {
      anchorFromHash();
      followAnchor();
    });
  }

  function start() {
    wire();
    showView("channel");
    anchorFromHash();
    let user = params.get("user");
    if (!user) {
      try {
        user = localStorage.getItem(USER_KEY);
      } catch {
        user = null;
      }
    }
    app.user = user || null;
    if (RENDER_TEST) {
      document.body.classList.add("pg-render-test");
      return;
    }
    if (app.user) setUser(app.user); // one kept in localStorage shows in the URL too
    setStatus("Connecting to the playground…");
    requestState();
    connectEvents();
  }

  window.playground = Object.freeze({
    renderBlocks: (blocks, opts) => renderBlocks(blocks, { ...(opts || {}), inputs: null }),
    state: () => app.state,
    /** render-test mode: show ``state`` as if /api/state had answered it (as the person ``state.me``). */
    loadState: (state) => {
      if (state.me && state.me !== app.user) {
        app.user = state.me;
        resetModal();
      }
      show(state);
    },
    /** render-test mode: what the page would have POSTed, oldest first. */
    posted: () => JSON.parse(JSON.stringify(app.posts)),
    /** render-test mode: answer POSTs to ``path`` with ``answer`` from now on. */
    answer: (path, answer) => {
      app.answers[path] = answer;
    },
    openThread,
    openHome,
    togglePeer,
  });

  start();
})();
