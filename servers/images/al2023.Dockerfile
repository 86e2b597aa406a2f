# Amazon Linux 2023 target image for sshmatrix (needs a registry for the base image).
# Build: `sshmatrix images build al2023` (DEFAULT) or `al2023-legacy` (LEGACY), which passes
# --build-arg CRYPTO_POLICY=...; or by hand:
#   docker build --build-arg CRYPTO_POLICY=LEGACY -t sshmatrix/sshd:al2023-legacy - < al2023.Dockerfile
# Use it with the `as-shipped` policy: sshd then reads /etc/ssh/sshd_config.d/*.conf, where
# 50-redhat.conf includes the system crypto policy's opensshserver.config.
FROM public.ecr.aws/amazonlinux/amazonlinux:2023
ARG CRYPTO_POLICY=DEFAULT
RUN dnf install -y openssh-server openssh-clients crypto-policies-scripts shadow-utils util-linux \
    && dnf clean all \
    && update-crypto-policies --set ${CRYPTO_POLICY}
CMD ["/bin/sh"]
