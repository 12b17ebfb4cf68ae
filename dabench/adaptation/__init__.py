"""Domain-adversarial losses, one module per method, with the reference library's names.

=========  =====================================================================
module     public classes
=========  =====================================================================
dann       DomainAdversarialLoss
cdan       ConditionalDomainAdversarialLoss, MultiLinearMap, RandomizedMultiLinearMap
adda       DomainAdversarialLoss (the inverted-label BCE)
bsp        BatchSpectralPenalizationLoss
osbp       UnknownClassBinaryCrossEntropy, ImageClassifier (two-layer bottleneck)
pada       ClassWeightModule, AutomaticUpdateClassWeightModule, collect_classification_results
iwan       ImportanceWeightModule
advent     Discriminator, DomainAdversarialEntropyLoss, prob_2_entropy
=========  =====================================================================
"""
