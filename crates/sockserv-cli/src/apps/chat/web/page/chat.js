// The sockserv web chat: one WebSocket to /ws, one text message per chat line.
// Everything from the server is shown with textContent, never parsed as HTML.
"use strict";

const messages = document.getElementById("messages");
const whoList = document.getElementById("who");
const count = document.getElementById("count");
const statusBadge = document.getElementById("status");
const meBadge = document.getElementById("me");
const form = document.getElementById("send");
const input = document.getElementById("input");

const NICK_KEY = "sockserv-chat-nick";
let socket = null;
let me = "";
let hiddenWho = 0;      // replies to our own automatic /who, not shown in the list
let backoff = 1000;     // next reconnect delay, doubled up to 30 s
let reconnectTimer = null;
let nickRetries = 0;    // a reloaded page's old connection may still hold our nick briefly

function time() {
  const now = new Date();
  return now.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function append(kind, nick, text) {
  const item = document.createElement("li");
  item.className = kind;
  const stamp = document.createElement("time");
  stamp.className = "time";
  stamp.dateTime = new Date().toISOString();
  stamp.textContent = time();
  item.append(stamp);
  if (nick !== null) {
    const who = document.createElement("span");
    who.className = "nick";
    who.textContent = nick;
    item.append(who);
  }
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  item.append(body);
  const atBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40;
  messages.append(item);
  if (atBottom) messages.scrollTop = messages.scrollHeight;
}

function setStatus(state, text) {
  statusBadge.dataset.state = state;
  statusBadge.textContent = text;
  input.disabled = button().disabled = state !== "open";
}

function button() { return form.querySelector("button"); }

function setMe(nick) {
  me = nick;
  meBadge.textContent = nick;
  for (const item of whoList.children) item.classList.toggle("me", item.textContent === me);
}

function setWho(nicks) {
  whoList.replaceChildren(...nicks.map((nick) => {
    const item = document.createElement("li");
    item.textContent = nick;
    if (nick === me) item.className = "me";
    return item;
  }));
  count.textContent = "(" + nicks.length + ")";
}

function send(line) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(line);
}

// Takes again the nick chosen in this tab, after a reload or a reconnect.
function takeWantedNick() {
  const wanted = sessionStorage.getItem(NICK_KEY);
  if (wanted && wanted !== me) send("/nick " + wanted);
}

function refreshWho() {
  hiddenWho += 1;
  send("/who");
}

// One line from the server: "NICK: TEXT", or a notice starting with "* ".
function receive(line) {
  if (!line.startsWith("* ")) {
    const colon = line.indexOf(": ");
    if (colon > 0) append("message", line.slice(0, colon), line.slice(colon + 2));
    else append("message", null, line);
    return;
  }
  const notice = line.slice(2);
  let match;
  if ((match = /^welcome, you are (\S+)$/.exec(notice))) {
    setMe(match[1]);
    nickRetries = 3;
    takeWantedNick();
    refreshWho();
  } else if ((match = /^online \((\d+)\): (.*)$/.exec(notice))) {
    setWho(match[2] === "" ? [] : match[2].split(", "));
    if (hiddenWho > 0) { hiddenWho -= 1; return; }
  } else if ((match = /^(\S+) is now (\S+)$/.exec(notice))) {
    if (match[1] === me) {
      setMe(match[2]);
      sessionStorage.setItem(NICK_KEY, me);
    }
    refreshWho();
  } else if (/^\S+ (joined|left|left \(too slow\))$/.test(notice)) {
    refreshWho();
  } else if ((match = /^error: nick (\S+) is taken$/.exec(notice))
             && match[1] === sessionStorage.getItem(NICK_KEY) && nickRetries > 0) {
    // Our own previous connection (before a reload or a reconnect) may not have left yet.
    nickRetries -= 1;
    setTimeout(takeWantedNick, 500);
  }
  append(notice.startsWith("error:") ? "notice error" : "notice", null, line);
}

function connect() {
  reconnectTimer = null;
  setStatus("connecting", "connecting…");
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(scheme + "//" + location.host + "/ws");
  socket = ws;
  hiddenWho = 0;
  ws.onopen = () => {
    backoff = 1000;
    setStatus("open", "connected");
    input.focus();
  };
  ws.onmessage = (event) => receive(String(event.data));
  ws.onclose = (event) => {
    if (socket !== ws) return;
    socket = null;
    const why = event.code === 1001 ? "the server is shutting down" : "connection lost";
    const delay = Math.round(backoff * (0.75 + Math.random() * 0.5));
    backoff = Math.min(backoff * 2, 30000);
    append("notice connection", null, "* " + why + "; reconnecting in " + Math.ceil(delay / 1000) + " s");
    setStatus("closed", "disconnected");
    reconnectTimer = setTimeout(connect, delay);
  };
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const line = input.value;
  if (line.trim() === "" || !socket || socket.readyState !== WebSocket.OPEN) return;
  send(line);
  input.value = "";
  if (line.startsWith("/nick ")) {
    sessionStorage.setItem(NICK_KEY, line.slice(6).trim());
  } else if (line.startsWith("/me ")) {
    append("notice mine", null, "* " + me + " " + line.slice(4));
  } else if (line.startsWith("/who")) {
    // The reply is shown (not hidden) and refreshes the list.
  } else if (!line.startsWith("/")) {
    append("message mine", me, line);
  }
});

// Back from a sleeping tab or a lost network: try at once instead of waiting out the back-off.
window.addEventListener("online", () => {
  if (reconnectTimer !== null) { clearTimeout(reconnectTimer); connect(); }
});

connect();
