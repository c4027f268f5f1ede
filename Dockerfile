# Nightshift control plane: one image, two processes (see docs/deploy.md).
#   API:     docker run ... nightshift serve --api-only      (the default command)
#   workers: docker run ... nightshift worker
# Secrets come from the environment at run time (--env-file); none is baked into the image.
FROM python:3.11.11-slim-bookworm

# git: the control plane clones, fetches and pushes repositories. bubblewrap and util-linux (nsenter): the local
# sandbox provider, for a single host; it gives each sandbox a network namespace of its own, which needs root
# (CAP_SYS_ADMIN), so this image (uid 10001) runs sandboxes on Modal (NIGHTSHIFT_SANDBOX=modal), as a team deploy does.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git bubblewrap util-linux ca-certificates \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 nightshift

WORKDIR /app
COPY pyproject.toml README.md ./
COPY control_plane ./control_plane
COPY harness ./harness
COPY integrations ./integrations
COPY reviewer ./reviewer
COPY skills ./skills
COPY evals ./evals
# Editable: the built-in skills are read from /app/skills, beside the packages.
RUN pip install --no-cache-dir -e '.[modal]'

USER 10001
ENV NIGHTSHIFT_DATA_DIR=/home/nightshift/data \
    NIGHTSHIFT_HOST=0.0.0.0 \
    PYTHONUNBUFFERED=1
EXPOSE 8000
ENTRYPOINT ["nightshift"]
CMD ["serve", "--api-only"]
