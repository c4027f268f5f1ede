"""The agent's brain: model clients, the tool loop, prompts, budgets. Runs in the control plane's worker."""
