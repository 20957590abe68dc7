# A 64-128-10 perceptron for scikit-learn's 8x8 digits.
from torchrig.testing.digits import DigitsClassifier

model = dict(type=DigitsClassifier, hidden_dims=[128], num_classes=10)
