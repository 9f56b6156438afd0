"""The seed notebook's numerical loops, copied verbatim as the reference.

Only the lines around them changed: the data and settings arrive as arguments
(set as the module globals the seed's code reads), the OneHotEncoder became
``np.eye``, and the training loop became a function. The seed's own lines,
including its quirks, are untouched, so this is what the library must equal.
Used by the fidelity tests and by ``benchmarks/speed.py``.
"""

import numpy as np
from scipy.special import expit

hidden_0 = 50  # Anzahl Knoten in ersten hidden Layer
hidden_1 = 500  # Anzahl Knoten in zweiten hidden Layer


# Kosten Funktion:
def costs(x, y, w_a, w_b, seed_):
    np.random.seed(seed_)  # insert random seed
    w0 = np.random.randn(hidden_0, 784)  # weight matrix of 1st hidden layer
    w1 = np.random.randn(hidden_1, hidden_0)  # weight matrix of 2nd hidden layer
    w2 = np.random.randn(10, hidden_1)  # weight matrix of output layer
    w2[5][250] = w_a  # set value for weight w_250,5(2)
    w2[5][251] = w_b  # set value for weight w_251,5(2)
    a0 = expit(w0 @ x.T)  # output of 1st hidden layer
    a1 = expit(w1 @ a0)  # output of 2nd hidden layer
    pred = expit(w2 @ a1)  # output of final layer
    return np.mean(np.sum((y - pred) ** 2, axis=0))  # Kosten in Bezug auf w_a and w_b


def seed_grid(train_X, train_y_oh, n, seed=135, m1s=None, m2s=None):
    """The seed's meshgrid loop for N = n; returns (m1s, m2s, Z)."""
    # Meshgrid:
    m1s = np.linspace(-15, 17, 40) if m1s is None else m1s
    m2s = np.linspace(-15, 18, 40) if m2s is None else m2s
    M1, M2 = np.meshgrid(m1s, m2s)  # Meshgrid erstellen
    zs = np.array(
        [
            costs(train_X[0:n], train_y_oh[0:n].T, mp1, mp2, seed)
            for mp1, mp2 in zip(np.ravel(M1), np.ravel(M2))
        ]
    )
    return m1s, m2s, zs.reshape(M1.shape)


methods = ["SGD", "SGD-Momentum", "Nesterov-SGD", "RMSProp", "Adam"]


# Set up neurale Netzwerk:
class NeuralNetwork(object):  # noqa: UP004 (verbatim)
    def __init__(self, lr=0.01):
        self.lr = lr
        np.random.seed(seed_)  # set random seed
        # Intialize weight matrices:
        self.w0 = np.random.randn(hidden_0, 784)
        self.w1 = np.random.randn(hidden_1, hidden_0)
        self.w2 = np.random.randn(10, hidden_1)
        self.w2[5][250] = start_a  # set starting value for w_a
        self.w2[5][251] = start_b  # set starting value for w_b
        # init Momenten für Momentum, Nesterov und RMSProp
        self.rho = 0.9
        self.vx = np.zeros((10, 500))  # shape
        self.grad_squared = np.zeros((10, 500))
        # Für Adam
        self.counter = 0
        self.beta1 = 0.9
        self.beta2 = 0.999
        self.first_moment = 0
        self.second_moment = 0
        self.first_unbias = 0
        self.secnd_unbias = 0

    def evaluate_gradient(self, a1, X, y, pred):
        temp = (pred - y.T) * pred * (1 - pred) @ a1.T / len(X)
        return temp

    def SGD_train(self, X, y, method):
        a0 = expit(self.w0 @ X.T)
        a1 = expit(self.w1 @ a0)
        pred = expit(self.w2 @ a1)
        # Partialle Ableitungen für Kosten in Bezug auf Gewichte in das output Schicht:
        dw2 = self.evaluate_gradient(a1, X, y, pred)
        # Updaten NUR unsere Gewichte:
        if method == "SGD":
            self.w2[5][250] = self.w2[5][250] - self.lr * dw2[5][250]
            self.w2[5][251] = self.w2[5][251] - self.lr * dw2[5][251]
            costs.append(self.cost(pred, y))  # List updaten mit Kosten
        if method == "SGD-Momentum":
            self.vx = self.rho * self.vx + dw2
            self.w2[5][250] = self.w2[5][250] - self.lr * self.vx[5][250]
            self.w2[5][251] = self.w2[5][251] - self.lr * self.vx[5][251]
            costs.append(self.cost(pred, y))  # List updaten mit Kosten
        if method == "Nesterov-SGD":
            old_vx = self.vx
            self.vx = self.rho * self.vx - self.lr * dw2
            self.w2[5][250] = (
                self.w2[5][250] + self.vx[5][250] + self.rho * (self.vx[5][250] - old_vx[5][250])
            )
            self.w2[5][251] = (
                self.w2[5][251] + self.vx[5][251] + self.rho * (self.vx[5][251] - old_vx[5][251])
            )
            costs.append(self.cost(pred, y))  # List updaten mit Kosten
        if method == "RMSProp":
            self.grad_squared = self.rho * self.grad_squared + (1 - self.rho) * dw2 * dw2
            self.w2[5][250] = self.w2[5][250] - self.lr * dw2[5][250] / (
                np.sqrt(self.grad_squared[5][250]) + 1e-1
            )
            self.w2[5][251] = self.w2[5][251] - self.lr * dw2[5][251] / (
                np.sqrt(self.grad_squared[5][251]) + 1e-1
            )
            costs.append(self.cost(pred, y))  # List updaten mit Kosten
        if method == "Adam":
            self.first_moment = self.beta1 * self.first_moment + (1 - self.beta1) * dw2
            self.second_moment = self.beta2 * self.second_moment + (1 - self.beta2) * dw2 * dw2
            self.first_unbias = self.first_moment / (1 - self.beta1 ** (self.counter + 1))
            self.second_unbias = self.second_moment / (1 - self.beta2 ** (self.counter + 1))
            self.counter += 1
            self.w2[5][250] = self.w2[5][250] - self.lr * self.first_unbias[5][250] / (
                np.sqrt(self.second_unbias[5][250]) + 1e-1
            )
            self.w2[5][251] = self.w2[5][251] - self.lr * self.first_unbias[5][251] / (
                np.sqrt(self.second_unbias[5][251]) + 1e-1
            )
            costs.append(self.cost(pred, y))  # List updaten mit Kosten

    def cost(self, pred, y):
        return np.mean(np.sum((y.T - pred) ** 2, axis=0))


def seed_training(train_X, train_y_oh, seed=135, lr=10, start=(-9, 15), epochs=1000, N=100):
    """The seed's training loop; returns {method: (w250, w251, cost)} as it records them."""
    global seed_, start_a, start_b, costs
    seed_ = seed
    cost_function, costs = costs, []
    weights_2_5_250 = []
    weights_2_5_251 = []
    try:
        for method in methods:
            start_a, start_b = start
            model = NeuralNetwork(lr)
            for i in range(epochs):
                model.SGD_train(train_X[0:N], train_y_oh[0:N], method)
                weights_2_5_250.append(model.w2[5][250])  # append weight values to list
                weights_2_5_251.append(model.w2[5][251])  # append weight values to list
        recorded = costs
    finally:
        costs = cost_function  # the seed overwrites its cost function with the list
    split = [
        np.split(np.array(values), len(methods))
        for values in (weights_2_5_250, weights_2_5_251, recorded)
    ]
    return {m: tuple(s[i] for s in split) for i, m in enumerate(methods)}
