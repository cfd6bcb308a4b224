// The room page: one websocket to ws/chat/<room_name>/, reconnected with
// exponential backoff whenever it closes, unless the server now sends this page
// elsewhere (its login page): then it stops and offers that link instead.
// Messages are inserted as text only.
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
  const url = `${scheme}://${window.location.host}/ws/chat/${encodeURIComponent(roomName)}/`;
  const firstDelay = 500; // ms
  const maxDelay = 30000; // ms

  let socket = null;
  let failures = 0;

  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
    submit.disabled = state !== "connected";
  }

  function showError(detail) {
    errorBox.textContent = detail;
    errorBox.hidden = false;
  }

  function appendMessage(data) {
    const item = document.createElement("li");
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
    log.append(item);
    log.scrollTop = log.scrollHeight;
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
    socket = new WebSocket(url);
    socket.addEventListener("open", () => {
      opened = true;
      failures = 0;
      setStatus("connected", "Connected");
    });
    socket.addEventListener("message", (event) => {
      const data = JSON.parse(event.data);
      if (data.type === "chat.message") {
        appendMessage(data);
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
