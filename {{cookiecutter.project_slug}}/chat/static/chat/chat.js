// The room page: one websocket to ws/chat/<room_name>/, reconnected with
// exponential backoff whenever it closes, unless the server now sends this page
// elsewhere (its login page): then it stops and offers that link instead.
// The first frames are the room's history and who is here; a reconnection asks
// for what came after the last message shown (?after=<id>), so nothing is
// missed or shown twice. Without accounts the page asks for a name once, keeps
// it in localStorage ("chat.name") and sends it as ?name=. A message stays in
// the input until the server has stored it, so a refused one is never lost.
// Text is inserted as text only, messages in id order.
(() => {
  "use strict";

  const roomName = JSON.parse(document.getElementById("room-name").textContent);
  const log = document.getElementById("chat-log");
  const errorBox = document.getElementById("chat-error");
  const status = document.getElementById("connection-status");
  const presence = document.getElementById("presence");
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-message-input");
  const submit = document.getElementById("chat-message-submit");
  const loginAgain = document.getElementById("login-again");
  const loginLink = document.getElementById("login-link");
  const nameForm = document.getElementById("name-form"); // without accounts only
  const nameInput = document.getElementById("name-input");
  const accountName = document.getElementById("user-name"); // with accounts only

  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const room = encodeURIComponent(roomName);
  const url = `${scheme}://${window.location.host}/ws/chat/${room}/`;
  const apiUrl = `/api/rooms/${room}/messages/`;
  const nameKey = "chat.name";
  const firstDelay = 500; // ms
  const maxDelay = 30000; // ms
  const timeFormat = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit" });

  let socket = null;
  let failures = 0;
  let lastId = null; // the largest message id shown
  let pending = null; // the text sent and not yet stored
  let reconnectNow = false; // the name changed: reconnect at once, not after a backoff

  function storedName() {
    try {
      return window.localStorage.getItem(nameKey) || "";
    } catch {
      return ""; // storage disabled: go on as "anonymous"
    }
  }

  // The name this page's messages carry: the account's, else the stored one.
  function myName() {
    if (accountName) {
      return JSON.parse(accountName.textContent);
    }
    return storedName().trim() || "anonymous";
  }

  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
    submit.disabled = state !== "connected" || pending !== null;
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
    if (data.user === myName()) {
      item.classList.add("own");
    }
    const user = document.createElement("span");
    user.className = "user";
    user.textContent = data.user;
    const text = document.createElement("span");
    text.className = "message";
    text.textContent = data.message;
    const time = document.createElement("time");
    time.dateTime = data.timestamp;
    time.textContent = timeFormat.format(new Date(data.timestamp));
    item.append(user, text, time);
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

  function showPresence(users) {
    presence.replaceChildren(
      ...users.map((name) => {
        const item = document.createElement("li");
        item.textContent = name;
        return item;
      }),
    );
  }

  // The message this page sent came back stored: the draft has done its job.
  function settle(data) {
    if (pending !== null && data.user === myName() && data.message === pending) {
      if (input.value === pending) {
        input.value = "";
      }
      pending = null;
      submit.disabled = status.dataset.state !== "connected";
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
    const query = new URLSearchParams();
    if (after !== null) {
      query.set("after", after);
    }
    if (!accountName && storedName()) {
      query.set("name", storedName());
    }
    const search = query.toString();
    socket = new WebSocket(search ? `${url}?${search}` : url);
    socket.addEventListener("open", () => {
      opened = true;
      failures = 0;
      setStatus("connected", "Connected");
    });
    socket.addEventListener("message", (event) => {
      const data = JSON.parse(event.data);
      if (data.type === "chat.message") {
        showMessage(data);
        settle(data);
      } else if (data.type === "history") {
        showHistory(data, after);
        // A message sent just before the connection closed is in the history if
        // it was stored; if not, it never arrived: the draft is still there to resend.
        data.messages.forEach(settle);
        pending = null;
        submit.disabled = status.dataset.state !== "connected";
      } else if (data.type === "presence") {
        showPresence(data.users);
      } else if (data.type === "error") {
        showError(data.detail);
        pending = null; // the draft is still in the input: fix it and send again
        submit.disabled = status.dataset.state !== "connected";
      }
    });
    socket.addEventListener("close", async () => {
      if (reconnectNow) {
        reconnectNow = false;
        connect();
        return;
      }
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
    const text = input.value;
    if (!text.trim() || pending !== null || socket === null) {
      return;
    }
    if (socket.readyState !== WebSocket.OPEN) {
      return;
    }
    errorBox.hidden = true;
    pending = text;
    submit.disabled = true;
    socket.send(JSON.stringify({ message: text }));
    input.focus();
  });

  if (nameForm) {
    nameInput.value = storedName();
    nameForm.hidden = false;
    nameForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const name = nameInput.value.trim();
      if (!nameInput.reportValidity() || name === storedName()) {
        return;
      }
      try {
        window.localStorage.setItem(nameKey, name);
      } catch {
        return;
      }
      // Reconnect under the new name; ?after= keeps the log whole.
      reconnectNow = true;
      socket.close();
    });
  }

  connect();
})();
