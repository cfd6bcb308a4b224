// The room page: one websocket to ws/chat/<room_name>/, reconnected with
// exponential backoff whenever it closes. Messages are inserted as text only.
(() => {
  "use strict";

  const roomName = JSON.parse(document.getElementById("room-name").textContent);
  const log = document.getElementById("chat-log");
  const errorBox = document.getElementById("chat-error");
  const status = document.getElementById("connection-status");
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-message-input");
  const submit = document.getElementById("chat-message-submit");

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

  function connect() {
    setStatus("connecting", "Connecting…");
    socket = new WebSocket(url);
    socket.addEventListener("open", () => {
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
    socket.addEventListener("close", () => {
      // Exponential backoff with jitter: wait between half and all of the ceiling.
      const ceiling = Math.min(maxDelay, firstDelay * 2 ** failures);
      const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
      failures += 1;
      setStatus("disconnected", `Disconnected; reconnecting in ${Math.ceil(delay / 1000)} s…`);
      window.setTimeout(connect, delay);
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
