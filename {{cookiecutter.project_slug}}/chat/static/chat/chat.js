// The room page: one websocket to ws/chat/<room_name>/, reconnected with
// exponential backoff whenever it closes, unless the server now sends this page
// elsewhere (its login page): then it stops and offers that link instead.
// The first frame is the room's history; a reconnection asks for what came
// after the last message shown (?after=<id>), so nothing is missed or shown
// twice. Messages are inserted as text only, in id order.
(() => {
  "use strict";

  const roomName = JSON.parse(document.getElementById("room-name").textContent);
  const log = document.getElementById("chat-log");
  const errorBox = document.getElementById("chat-error");
  const status = document.getElementById("connection-status");
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-message-input");
  const submit = document.getElementById("chat-message-submit");
  const loginAgain = document.getElementById("login-again");
  const loginLink = document.getElementById("login-link");

  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const room = encodeURIComponent(roomName);
  const url = `${scheme}://${window.location.host}/ws/chat/${room}/`;
  const apiUrl = `/api/rooms/${room}/messages/`;
  const firstDelay = 500; // ms
  const maxDelay = 30000; // ms

  let socket = null;
  let failures = 0;
  let lastId = null; // the largest message id shown

  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
    submit.disabled = state !== "connected";
  }

  function showError(detail) {
    errorBox.textContent = detail;
    errorBox.hidden = false;
  }

  // Show a chat.message once, in id order (live frames from several server
  // processes may arrive slightly out of order).
  function showMessage(data) {
    if (log.querySelector(`[data-id="${data.id}"]`)) {
      return;
    }
    const item = document.createElement("li");
    item.dataset.id = data.id;
    const user = document.createElement("span");
    user.className = "user";
    user.textContent = data.user;
    const text = document.createElement("span");
    text.className = "message";
    text.textContent = data.message;
    item.append(user, text);
    if (data.timestamp) {
      item.title = data.timestamp;
    }
    const last = log.lastElementChild;
    if (last === null || Number(last.dataset.id) < data.id) {
      log.append(item);
    } else {
      const later = Array.from(log.children).find((other) => Number(other.dataset.id) > data.id);
      log.insertBefore(item, later);
    }
    lastId = Math.max(lastId ?? 0, data.id);
    log.scrollTop = log.scrollHeight;
  }

  // The history frame holds at most CHAT_HISTORY_LENGTH messages: when it says
  // there are more after a reconnection, fetch the rest from the room's API.
  async function showHistory(data, after) {
    data.messages.forEach(showMessage);
    let more = data.more && after !== null;
    let cursor = data.messages.length ? data.messages[data.messages.length - 1].id : after;
    while (more) {
      const response = await fetch(`${apiUrl}?after=${cursor}`, { cache: "no-store" });
      if (!response.ok) {
        return;
      }
      const page = await response.json();
      page.messages.forEach(showMessage);
      more = page.more && page.messages.length > 0;
      cursor = more ? page.messages[page.messages.length - 1].id : cursor;
    }
  }

  // A browser cannot tell why a handshake failed (refused or server down), so
  // ask for this page again: a redirect to another page (the login page, with
  // "next" back here) means the session is gone; an answer here means the
  // server is up and the user may still connect; a network error means the
  // server is down. Returns the URL the page was sent to, or null.
  async function redirectedTo() {
    try {
      const response = await fetch(window.location.href, { cache: "no-store" });
      return response.redirected ? response.url : null;
    } catch {
      return null;
    }
  }

  function reconnectLater() {
    // Exponential backoff with jitter: wait between half and all of the ceiling.
    const ceiling = Math.min(maxDelay, firstDelay * 2 ** failures);
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    failures += 1;
    setStatus("disconnected", `Disconnected; reconnecting in ${Math.ceil(delay / 1000)} s…`);
    window.setTimeout(connect, delay);
  }

  function stopForLogin(url) {
    setStatus("logged-out", "Logged out");
    loginLink.href = url;
    loginAgain.hidden = false;
  }

  function connect() {
    setStatus("connecting", "Connecting…");
    let opened = false;
    const after = lastId;
    socket = new WebSocket(after === null ? url : `${url}?after=${after}`);
    socket.addEventListener("open", () => {
      opened = true;
      failures = 0;
      setStatus("connected", "Connected");
    });
    socket.addEventListener("message", (event) => {
      const data = JSON.parse(event.data);
      if (data.type === "chat.message") {
        showMessage(data);
      } else if (data.type === "history") {
        showHistory(data, after);
      } else if (data.type === "error") {
        showError(data.detail);
      }
    });
    socket.addEventListener("close", async () => {
      const loginUrl = opened ? null : await redirectedTo();
      if (loginUrl === null) {
        reconnectLater();
      } else {
        stopForLogin(loginUrl);
      }
    });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!input.value || socket === null || socket.readyState !== WebSocket.OPEN) {
      return;
    }
    errorBox.hidden = true;
    socket.send(JSON.stringify({ message: input.value }));
    input.value = "";
    input.focus();
  });

  connect();
})();
