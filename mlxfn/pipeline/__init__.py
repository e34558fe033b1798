"""Pure pipeline steps: request → prompt → generation plan → completion."""
