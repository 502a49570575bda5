"""AWS: one session factory, the EBS direct-API uploader, AMI registration and IAM policies."""
