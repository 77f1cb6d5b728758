// Package churn predicts which customers will leave: it reads customer
// tables, infers or applies a schema, assembles features from event sources
// joined on a customer id (usage, billing, support tickets with a sentiment
// score), trains gradient-boosted trees (package gbdt) under k-fold
// cross-validation with calibrated probabilities, keeps versioned models in
// a registry, scores rows in batch and in real time with per-field
// validation and top reasons, pushes high-risk customers to a CRM webhook,
// measures drift between training data and scoring traffic, and estimates
// uplift when the data records a treatment.
package churn

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sextant-ai/sextant"
)

// Table is a CSV file held in memory.
type Table struct {
	Name   string // for messages: usually the file name
	Header []string
	Rows   [][]string
}

// Column returns the index of the named column, or -1.
func (t *Table) Column(name string) int {
	for i, h := range t.Header {
		if h == name {
			return i
		}
	}
	return -1
}

// CSVReader reads a CSV stream with a header row, one record at a time,
// checking that every record has one field per column.
type CSVReader struct {
	name   string
	r      *csv.Reader
	header []string
	line   int
}

// NewCSVReader reads the header of r; name labels errors.
func NewCSVReader(r io.Reader, name string) (*CSVReader, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err == io.EOF {
		return nil, sextant.Errorf(sextant.EINVALID, "%s: empty file, want a header row", name)
	}
	if err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "%s: header: %v", name, csvMessage(err))
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		header[i] = h
		if h == "" {
			return nil, sextant.Errorf(sextant.EINVALID, "%s: header column %d is empty", name, i+1)
		}
		if seen[h] {
			return nil, sextant.Errorf(sextant.EINVALID, "%s: header names column %q twice", name, h)
		}
		seen[h] = true
	}
	cr.FieldsPerRecord = len(header)
	return &CSVReader{name: name, r: cr, header: header, line: 1}, nil
}

// Header returns the column names.
func (c *CSVReader) Header() []string { return c.header }

// Line returns the line number of the last record read (1 is the header).
func (c *CSVReader) Line() int { return c.line }

// Next returns the next record, or io.EOF after the last one.
func (c *CSVReader) Next() ([]string, error) {
	rec, err := c.r.Read()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "%s: %v", c.name, csvMessage(err))
	}
	// FieldPos is only defined after a successful read.
	c.line, _ = c.r.FieldPos(0)
	return rec, nil
}

func csvMessage(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return fmt.Sprintf("line %d: wrong number of fields", pe.Line)
		}
		return fmt.Sprintf("line %d column %d: %v", pe.Line, pe.Column, pe.Err)
	}
	return err.Error()
}

// ReadTable reads a whole CSV stream with a header row.
func ReadTable(r io.Reader, name string) (*Table, error) {
	cr, err := NewCSVReader(r, name)
	if err != nil {
		return nil, err
	}
	t := &Table{Name: name, Header: cr.Header()}
	for {
		rec, err := cr.Next()
		if err == io.EOF {
			return t, nil
		}
		if err != nil {
			return nil, err
		}
		t.Rows = append(t.Rows, rec)
	}
}

// ParseTable is ReadTable over bytes.
func ParseTable(data []byte, name string) (*Table, error) {
	return ReadTable(bytes.NewReader(data), name)
}

// WriteCSV writes the table with its header.
func (t *Table) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(t.Header); err != nil {
		return err
	}
	if err := cw.WriteAll(t.Rows); err != nil {
		return err
	}
	return cw.Error()
}
