"""bench/tutorial.py: the PyTorch MNIST tutorial as written, for bench/run.sh.

The PyTorch MNIST tutorial of the README's user story, line for line
(torchvision dataset with transforms.ToTensor, DataLoader of batch 64 with
shuffle, 784-128-10 ReLU, SGD lr 0.01, cross entropy), with four changes:
FashionMNIST instead of MNIST and download=False (Debian's IDX files, which
the caller unpacks into ROOT/FashionMNIST/raw/), the epoch count and root as
options, each epoch timed, and the times printed as examples/mnist.lua
prints them ("Epoch times (s): ...").

    /usr/bin/python3 bench/tutorial.py ROOT [--epochs 5] [--threads N] [--limit N]
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.optim as optim
from torchvision import datasets, transforms

p = argparse.ArgumentParser()
p.add_argument("root")
p.add_argument("--epochs", type=int, default=5)
p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: default)")
p.add_argument("--limit", type=int, default=0, help="the first N images only (a smoke run)")
args = p.parse_args()
if args.threads:
    torch.set_num_threads(args.threads)

# Load dataset
transform = transforms.Compose([transforms.ToTensor()])
train_dataset = datasets.FashionMNIST(root=args.root, train=True, download=False, transform=transform)
if args.limit:
    train_dataset = torch.utils.data.Subset(train_dataset, range(args.limit))
train_loader = torch.utils.data.DataLoader(dataset=train_dataset, batch_size=64, shuffle=True)


# Define artificial neural network class
class SimpleNN(nn.Module):
    def __init__(self):
        super(SimpleNN, self).__init__()
        self.fc1 = nn.Linear(28 * 28, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = x.view(-1, 28 * 28)  # Convert to 1D
        x = torch.relu(self.fc1(x))  # Activation function
        x = self.fc2(x)  # Final output
        return x


# Define model, loss function and optimizer
model = SimpleNN()
criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(model.parameters(), lr=0.01)

# Training
times = []
for epoch in range(args.epochs):  # Training for 5 epochs
    t0 = time.perf_counter()
    for images, labels in train_loader:
        optimizer.zero_grad()  # Initialize gradients
        outputs = model(images)  # Model prediction
        loss = criterion(outputs, labels)  # Calculate loss
        loss.backward()  # Backpropagation
        optimizer.step()  # Update weights
    times.append(time.perf_counter() - t0)
    print(f'Epoch {epoch+1}, Loss: {loss.item()}')
print("Epoch times (s): " + " ".join(f"{t:.3f}" for t in times))
