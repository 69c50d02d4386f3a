"""The trusted reference for every hand-written backward pass: central differences on every entry."""


def worst_relative_errors(params: dict, objective, grads: dict, step: float, floor: float) -> dict:
    """Largest relative error per weight tensor over all of its entries.

    `objective()` reads `params` (perturbed in place, one entry at a time). The error is relative,
    with a floor: for a near-zero gradient the quotient's own O(step^2) and rounding error dominates."""
    worst = {}
    for name, p in params.items():
        flat = p.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + step
            up = objective()
            flat[i] = old - step
            down = objective()
            flat[i] = old
            numeric = (up - down) / (2 * step)
            analytic = grads[name].reshape(-1)[i]
            worst[name] = max(worst.get(name, 0.0), abs(numeric - analytic) / max(abs(numeric) + abs(analytic), floor))
    return worst
