"""Background loops of the service: the inbox worker (bot.worker.inbox) and the outbox
sender (bot.worker.sender). `marugoto serve` runs them embedded or as separate roles."""
