# Worker / gateway image. Multi-stage: build the wheel with the full toolchain, run slim.
# Build: docker build -t jackpot .      Run: docker run jackpot worker | gateway | migrate
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir build
COPY pyproject.toml README.md ./
COPY jackpot ./jackpot
COPY engine ./engine
COPY streams ./streams
COPY tables ./tables
COPY sinks ./sinks
COPY gateway ./gateway
COPY ops ./ops
COPY bench ./bench
COPY avro ./avro
COPY simulation ./simulation
COPY campaigns ./campaigns
COPY fraud ./fraud
RUN python -m build --wheel --outdir /wheels . \
 && pip wheel --no-cache-dir --wheel-dir /wheels /wheels/jackpot-*.whl

FROM python:3.11-slim AS runtime
RUN useradd --create-home --uid 10001 jackpot
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels jackpot && rm -rf /wheels
USER jackpot
WORKDIR /home/jackpot
ENV JACKPOT_DATA_DIR=/home/jackpot/data \
    PYTHONUNBUFFERED=1
VOLUME ["/home/jackpot/data"]
EXPOSE 8780 8781
ENTRYPOINT ["jackpot"]
CMD ["worker"]
