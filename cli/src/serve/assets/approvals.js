// Approve and Deny buttons: a JSON POST to this server (a cross-site form cannot send one
// without the server's consent), then the page reloads with the decision.
document.querySelectorAll("button[data-approval]").forEach((button) => {
  button.addEventListener("click", async () => {
    const act = button.dataset.act;
    const note = window.prompt(act === "approve" ? "Note (optional)" : "Why deny? (optional)", "");
    if (note === null) return;
    button.disabled = true;
    const res = await fetch(`/api/approvals/${encodeURIComponent(button.dataset.approval)}/${act}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(note ? { note } : {}),
    });
    const out = document.getElementById("decision");
    if (res.ok) {
      const a = await res.json();
      out.textContent = `${a.status} ${a.id}`;
      window.location.reload();
    } else {
      const e = await res.json().catch(() => ({}));
      out.textContent = (e.error && e.error.message) || `HTTP ${res.status}`;
      button.disabled = false;
    }
  });
});
